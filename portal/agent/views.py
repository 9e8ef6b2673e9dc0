"""The agent console: create capture requests and watch them live.

One screen: the create form and the agent's recent requests, each with a status panel that
``static/js/agent/console.js`` refreshes from ``/agent/api/requests`` (ETag + 304), so it works
with any number of app processes: the state lives only in the database.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json

import segno
from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import joinedload

from portal.agent.forms import ActionForm, CreateRequestForm, ExtendForm, ResendForm
from portal.capture import identity, service, visibility
from portal.capture.service import CaptureError, DuplicateSubmission, IssuedLink
from portal.extensions import db
from portal.live_status.panel import local_time, panel_data, panels, with_deliveries
from portal.payments import service as payments
from portal.payments.gateway import StripeGateway
from portal.security.actors import client_origin, signed_in_actor
from portal.security.authz import Permission, has_permission
from portal.security.guards import gate_blueprint, requires

bp = Blueprint("agent", __name__)
gate_blueprint(bp, Permission.CAPTURE_VIEW_OWN)


def _panels(requests) -> list[dict]:
    expired_any = False
    origin = client_origin()
    for item in requests:
        expired_any = service.expire_if_due(item, origin=origin) or expired_any
    if expired_any:
        db.session.commit()
    return panels(requests)


def _qr_data_uri(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, dark="#111", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _render_console(
    form=None, issued: IssuedLink | None = None, status: int = 200, error: str | None = None
):
    user = g.staff_user
    mine = _panels(visibility.recent_for(user, with_deliveries()))
    team = _panels(visibility.recent_for(user, with_deliveries(), team=True))
    issued_view = None
    if issued is not None:
        issued_view = {
            "url": issued.url,
            "qr": _qr_data_uri(issued.url),
            "panel": panel_data(issued.request),
            "length": len(issued.url),
        }
    return render_template(
        "agent/console.html",
        form=form or CreateRequestForm(),
        error=error,
        mine=mine,
        team=team,
        issued=issued_view,
        can_create=has_permission(user.role, Permission.CAPTURE_CREATE),
        can_manage=has_permission(user.role, Permission.CAPTURE_MANAGE),
        resend_form=ResendForm(),
        extend_form=ExtendForm(),
        action_form=ActionForm(),
    ), status


@bp.get("/")
def console():
    return _render_console()


@bp.post("/requests")
@requires(Permission.CAPTURE_CREATE)
def create():
    form = CreateRequestForm()
    if not form.validate_on_submit():
        return _render_console(form, status=400)
    try:
        issued = service.create_request(g.staff_user, form.spec(), actor=signed_in_actor())
    except DuplicateSubmission:
        db.session.rollback()
        flash("That request was already created (the form was sent twice).", "info")
        return redirect(url_for("agent.console"))
    except CaptureError as problem:
        db.session.rollback()
        return _render_console(form, status=400, error=str(problem))
    except ValueError as problem:  # the outbox refused the destination or the channel
        db.session.rollback()
        form.destination.errors.append(str(problem))
        return _render_console(form, status=400)
    # Read before the commit expires the row: the redirect then costs no further query.
    channel, code = (
        issued.request.link_channel,
        identity.display_readback(issued.request.readback_code),
    )
    db.session.commit()
    if channel != "copy":
        flash(f"Request created and the link is on its way. Read-back code: {code}.", "success")
        return redirect(url_for("agent.console"))
    return _render_console(CreateRequestForm(formdata=None), issued=issued, status=201)


def _visible_or_404(public_id: str, *options):
    found = visibility.find_visible(g.staff_user, public_id, *options)
    if found is None:
        abort(404)
    return found


@bp.post("/requests/<public_id>/revoke")
@requires(Permission.CAPTURE_MANAGE)
def revoke(public_id: str):
    capture = _visible_or_404(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    actor = signed_in_actor()
    response = _act(
        lambda: service.revoke(capture, actor=actor), "Request revoked: its link no longer works."
    )
    # A PaymentIntent already made for the customer must never be charged now: cancel it at
    # Stripe at once (if Stripe is unreachable, reconcile cancels it later).
    payments.stop_quietly(capture, gateway=StripeGateway.for_app(), actor=actor)
    return response


@bp.post("/requests/<public_id>/extend")
@requires(Permission.CAPTURE_MANAGE)
def extend(public_id: str):
    capture = _visible_or_404(public_id)
    form = ExtendForm()
    if not form.validate_on_submit():
        abort(400)
    return _act(
        lambda: service.extend(capture, form.minutes.data, actor=signed_in_actor()),
        lambda expiry: f"Extended: the link now works until {local_time(expiry)}.",
    )


@bp.post("/requests/<public_id>/resend")
@requires(Permission.CAPTURE_MANAGE)
def resend(public_id: str):
    capture = _visible_or_404(public_id)
    form = ResendForm()
    if not form.validate_on_submit():
        message = " ".join(form.destination.errors or form.channel.errors) or "Check the form."
        flash(f"The link was not re-sent: {message}", "error")
        return redirect(url_for("agent.console"))
    try:
        issued = service.resend(
            capture, form.channel.data, form.destination.data, actor=signed_in_actor()
        )
    except ValueError as problem:
        db.session.rollback()
        flash(f"The link was not re-sent: {problem}", "error")
        return redirect(url_for("agent.console"))
    db.session.commit()
    if form.channel.data == "copy":
        return _render_console(issued=issued)
    flash("A new link is on its way; the old one no longer works.", "success")
    return redirect(url_for("agent.console"))


def _act(action, message):
    try:
        result = action()
    except CaptureError as problem:
        db.session.rollback()
        flash(str(problem), "error")
        return redirect(url_for("agent.console"))
    db.session.commit()
    flash(message(result) if callable(message) else message, "success")
    return redirect(url_for("agent.console"))


# --- the live status API the console polls ------------------------------------------------


def _json_with_etag(payload: dict):
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    if etag in request.if_none_match:
        response = jsonify()
        response.status_code = 304
        response.set_data(b"")
    else:
        response = jsonify(payload)
    response.set_etag(etag)
    return response


@bp.get("/api/requests")
def api_requests():
    """The caller's recent requests (and their team's, for supervisors), as panel data."""
    user = g.staff_user
    return _json_with_etag(
        {
            "mine": _panels(visibility.recent_for(user, with_deliveries())),
            "team": _panels(visibility.recent_for(user, with_deliveries(), team=True)),
        }
    )


@bp.get("/api/requests/<public_id>/status")
def api_status(public_id: str):
    capture = _visible_or_404(public_id, with_deliveries(joinedload))
    return _json_with_etag(_panels([capture])[0])
