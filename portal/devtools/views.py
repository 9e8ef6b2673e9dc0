"""``/dev/outbox``: what the development outbox "sent", newest first, for signed-in staff.

In development and tests no SMS or email leaves the machine; this page shows each message as
the customer would have received it, with its link, so a demo can be run end to end. The
HTML body is served as its own response under a CSP that forbids everything and sandboxes
the document, so a message body can never run script in the portal's origin.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template
from sqlalchemy import select

from portal.delivery.outbox import render
from portal.delivery.receipts import render_notice
from portal.delivery.sealed_link import LinkUnavailable
from portal.delivery.staff_notices import render_staff_notice
from portal.extensions import db, talisman
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage
from portal.security.guards import check_staff

bp = Blueprint("devtools", __name__)
PAGE_SIZE = 50

#: For a message's HTML body: nothing may load or run; links may be followed.
HTML_BODY_POLICY = {
    "default-src": "'none'",
    # The email's own styles, inline as email programs need them (messages/_email_layout.html);
    # nothing else loads or runs: no script, image or font source, and the page is sandboxed.
    "style-src": "'unsafe-inline'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
    "sandbox": "allow-top-navigation-by-user-activation",
}


@bp.before_request
def _gate():
    if not current_app.config.get("DEV_OUTBOX_ENABLED"):
        abort(404)
    return check_staff(None)


def _rendered(message: DeliveryMessage):
    """The message as the customer receives it, rendered again from its request and sealed
    link (the outbox keeps no body); None once retention has emptied it."""
    if message.capture_request_id is None:  # a security notification to an admin
        return render_staff_notice(message)
    if message.customer_notice:  # a receipt or refund notice: no link, rendered from its row
        return render_notice(message)
    try:
        return render(message, db.session.get(CaptureRequest, message.capture_request_id))
    except LinkUnavailable:
        return None


@bp.get("/outbox")
def outbox():
    messages = (
        db.session.execute(
            select(DeliveryMessage)
            .where(DeliveryMessage.backend == "dev")
            .order_by(DeliveryMessage.id.desc())
            .limit(PAGE_SIZE)
        )
        .scalars()
        .all()
    )
    items = [{"message": message, "rendered": _rendered(message)} for message in messages]
    return render_template("dev/outbox.html", items=items, page_size=PAGE_SIZE)


@bp.get("/outbox/<int:message_id>/html")
@talisman(content_security_policy=HTML_BODY_POLICY, content_security_policy_nonce_in=[])
def outbox_html(message_id: int):
    message = db.session.get(DeliveryMessage, message_id)
    rendered = _rendered(message) if message is not None and message.backend == "dev" else None
    if rendered is None or not rendered.html_body:
        abort(404)
    return Response(rendered.html_body, mimetype="text/html")
