"""API keys and calls as the API tests make them."""

from __future__ import annotations

from portal.api_keys.scopes import SCOPES

ALL_SCOPES = tuple(SCOPES)


def make_api_key(app, *, team: str = "North", scopes=ALL_SCOPES, created_by_id=None, name="CRM"):
    """Create and commit a key for ``team`` (made if new) through the service; returns its
    whole text (shown once)."""
    from portal import audit
    from portal.api_keys import service
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.staff.accounts import get_or_create_team

    with app.app_context():
        creator = db.session.get(StaffUser, created_by_id) if created_by_id else None
        created = service.create_key(
            name, get_or_create_team(team), scopes, created_by=creator, actor=audit.CLI
        )
        db.session.commit()
        return created.text


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def api_call(client, method: str, path: str, key: str | None, json=None, **headers):
    """``method`` on ``/api/v1<path>`` with ``key`` (None: none) and a JSON body."""
    sent = {**(bearer(key) if key else {}), **headers}
    return client.open(f"/api/v1{path}", method=method, json=json, headers=sent)


def payment_body(agent: str, **overrides) -> dict:
    """A valid copy-link payment request for ``agent``."""
    return {
        "agent": agent,
        "kind": "payment",
        "amount": 1250,
        "currency": "GBP",
        "purpose": "Gas bill for March",
        "reference": "ACC-1001",
        "identity_item": "postcode",
        "identity_value": "SW1A 1AA",
        "channel": "copy",
        **overrides,
    }
