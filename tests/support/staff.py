"""Staff accounts as the tests make them: the record a test keeps and the factory behind the
``make_staff`` fixture."""

from __future__ import annotations

from dataclasses import dataclass

import pyotp

DEFAULT_PASSWORD = "correct horse battery staple 42"


@dataclass(frozen=True)
class Staff:
    """What a test needs to know about a staff account it made (detached from any session)."""

    id: int
    username: str
    role: str
    team_id: int | None
    totp_secret: str | None
    mfa_enabled: bool


def create_staff_account(
    app, role: str, username: str, *, team=None, mfa=None, password=DEFAULT_PASSWORD
) -> Staff:
    """Create and commit a staff account through the CLI's own ``create_staff``, enrolled in
    TOTP when ``mfa``; returns its detached record. ``mfa`` defaults to what ``app`` requires
    of the role (``portal.security.authz.mfa_required``), so tests follow the policy; pass
    ``mfa=False`` for an account that has yet to enrol."""
    from portal.cli import create_staff
    from portal.extensions import db
    from portal.security.authz import mfa_required

    with app.app_context():
        if mfa is None:
            mfa = mfa_required(role)
        user = create_staff(username, password, role, team=team)
        if mfa:
            user.totp_secret = pyotp.random_base32()
            user.mfa_enabled = True
        db.session.commit()
        return Staff(
            user.id, user.username, user.role, user.team_id, user.totp_secret, user.mfa_enabled
        )
