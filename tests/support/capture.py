"""Capture requests in tests: the one factory for a row built straight from the model, requests
created through the service or the agent's console, a customer following the link, the clock
moved past a request's expiry, and what the audit trail says about one.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from tests.support.web import csrf_from, post_form

if TYPE_CHECKING:
    from portal.models.capture import CaptureRequest

DEFAULT_FORM = {
    "kind": "payment",
    "amount": "12.50",
    "currency": "GBP",
    "purpose": "Gas bill for March",
    "reference": "ACC-1001",
    "interaction_id": "",
    "field_set": "",
    "identity_item": "postcode",
    "identity_value": "SW1A 1AA",
    "expiry_minutes": "15",
    "channel": "copy",
    "destination": "",
}
_ISSUED = re.compile(r'id="issued-link-url" class="copy-source" value="([^"]+)"')


def capture_request_row(
    created_by_id: int | None,
    *,
    kind: str = "payment",
    now: datetime | None = None,
    expires_in: timedelta = timedelta(minutes=15),
    **overrides,
) -> CaptureRequest:
    """A ``CaptureRequest`` built straight from the model, in no session: a ``kind`` request
    (£12.50 when it takes a payment, the address field set when it asks for data) whose link was
    issued ``now`` and expires ``expires_in`` later. ``overrides`` set any other column. Every
    test that needs a row without the service's rules builds it here."""
    from portal.capture import links
    from portal.models.capture import CaptureRequest
    from portal.models.types import utcnow

    now = now or utcnow()
    takes_payment, asks_for_data = kind != "data", kind != "payment"
    columns = {
        # A real id's shape (K7F-3QX-2M9): never one a CSV export would escape.
        "public_id": links.new_public_id(),
        "kind": kind,
        "status": "created",
        "created_by_id": created_by_id,
        "amount_minor": 1250 if takes_payment else None,
        "currency": "GBP" if takes_payment else None,
        "field_set": "address" if asks_for_data else None,
        "reference": "INV-1001",
        "readback_code": "K7Q2",
        "link_nonce_hash": links.hash_secret(links.new_nonce()),
        "link_issued_at": now,
        "expires_at": now + expires_in,
        "created_at": now,
        "updated_at": now,
    }
    return CaptureRequest(**{**columns, **overrides})


def make_capture_request(staff_id: int, *, minutes: int = 15, **overrides):
    """Insert a ``capture_request_row`` whose link works (flushed in the caller's app context,
    not committed); returns (request, link URL)."""
    from portal.capture import links
    from portal.extensions import db

    nonce = links.new_nonce()
    request = capture_request_row(
        staff_id,
        expires_in=timedelta(minutes=minutes),
        link_nonce_hash=links.hash_secret(nonce),
        **overrides,
    )
    db.session.add(request)
    db.session.flush()
    return request, links.link_url(links.make_token(request.public_id, nonce))


def update_request(app, public_id: str, /, **values) -> None:
    """Set columns of a request (``public_id`` too) straight in the table, committed, past the
    state machine, as a test arranging a situation does."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        db.session.execute(
            update(CaptureRequest).where(CaptureRequest.public_id == public_id).values(**values)
        )
        db.session.commit()


def expire(app, public_id: str, *, ago: timedelta = timedelta(seconds=1)) -> None:
    """Move the request's expiry ``ago`` into the past, as time would; its status is left for
    the code under test to notice."""
    from portal.models.types import utcnow

    update_request(app, public_id, expires_at=utcnow() - ago)


def create_via_console(client, **overrides):
    """Post the console's create form; returns (response, link URL or None)."""
    page = client.get("/agent/").get_data(as_text=True)
    key = re.search(r'name="create_key" type="hidden" value="([^"]+)"', page)
    data = {**DEFAULT_FORM, "create_key": key.group(1) if key else "", **overrides}
    response = client.post("/agent/requests", data={**data, "csrf_token": csrf_from(page)})
    match = _ISSUED.search(response.get_data(as_text=True))
    return response, html.unescape(match.group(1)) if match else None


def create_direct(app, agent_id: int, **overrides):
    """Create a request through the service (no HTTP); returns (public_id, link URL)."""
    from portal.audit import Actor
    from portal.capture import service
    from portal.extensions import db
    from portal.models.staff import StaffUser

    spec = {
        "kind": "payment",
        "reference": "ACC-1001",
        "expiry_minutes": 15,
        "channel": "copy",
        "amount_minor": 1250,
        "currency": "GBP",
        "purpose": "Gas bill for March",
        "identity_item": "postcode",
        "identity_value": "SW1A 1AA",
        **overrides,
    }
    with app.app_context():
        agent = db.session.get(StaffUser, agent_id)
        issued = service.create_request(
            agent, service.RequestSpec(**spec), actor=Actor.staff(agent)
        )
        db.session.commit()
        return issued.request.public_id, issued.url


def path_of(url: str) -> str:
    return urlsplit(url).path


def token_of(url: str) -> str:
    return path_of(url).rsplit("/", 1)[-1]


def public_id_of(url: str) -> str:
    """The public id a customer link names, read from its token without checking the signature
    (the outbox keeps a message's request, not its link, so tests match delivered links to
    messages by it)."""
    from itsdangerous import URLSafeSerializer

    from portal.capture.links import CompactClaim

    payload = token_of(url).rsplit(".", 2)[0]  # a compressed payload starts with "."
    reader = URLSafeSerializer("unused", serializer=CompactClaim)
    return reader.load_payload(payload.encode())[0]


def press_start(client, url: str):
    """GET the landing page (for its CSRF token), then press Start."""
    page = client.get(path_of(url))
    assert page.status_code == 200, page.status_code
    token = csrf_from(page.get_data(as_text=True))
    return client.post(path_of(url) + "/start", data={"csrf_token": token})


def answer_identity(client, url: str, answer: str):
    return post_form(client, path_of(url) + "/check", {"answer": answer})


def load(app, public_id: str):
    """The request row, detached, for assertions."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        row = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        db.session.expunge(row)
        return row


def audit_actions(app, public_id: str | None = None) -> list[str]:
    """The audit trail's actions in order, sealed or still pending (``portal.audit.trail``:
    where a sealer worker links rows, the newest may not be in the chain yet)."""
    from portal.audit.trail import in_order, trail
    from portal.extensions import db

    with app.app_context():
        audited = trail()
        query = select(audited.c.action).order_by(*in_order(audited))
        if public_id is not None:
            query = query.where(audited.c.target_id == public_id)
        return list(db.session.execute(query).scalars())


def count_audit(app, action: str, public_id: str) -> int:
    from portal.audit.trail import trail
    from portal.extensions import db

    with app.app_context():
        audited = trail()
        return db.session.execute(
            select(func.count())
            .select_from(audited)
            .where(audited.c.action == action, audited.c.target_id == public_id)
        ).scalar_one()
