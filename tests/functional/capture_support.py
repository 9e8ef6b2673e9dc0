"""Helpers shared by the capture-request tests: create requests, follow links as a customer."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from sqlalchemy import func, select

from tests.conftest import csrf_from, post_form

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
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        query = select(AuditEvent.action).order_by(AuditEvent.seq)
        if public_id is not None:
            query = query.where(AuditEvent.target_id == public_id)
        return list(db.session.execute(query).scalars())


def count_audit(app, action: str, public_id: str) -> int:
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        return db.session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.target_id == public_id)
        ).scalar_one()
