"""Re-authentication ("confirm it's you") before a sensitive action: refunds and their
approval, revealing a customer's data (one field, or all of it in a subject-access export),
erasing it, changing staff accounts.

Password AND a fresh second-factor code are proven again; success is stamped on the current
session row (``staff_sessions.reauthenticated_at``) and counts for REAUTH_MAX_AGE. A login
does not count: the point is a deliberate, recent proof right before the action. Failures
count towards the account's lockout exactly like failed logins.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from flask import current_app
from sqlalchemy import update

from portal import audit
from portal.extensions import db
from portal.models.staff import StaffSession, StaffUser
from portal.models.types import utcnow
from portal.security import passwords
from portal.staff import login, mfa


class ReauthOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    #: The account has no second factor enrolled, so it cannot re-authenticate.
    NO_SECOND_FACTOR = "no_second_factor"


def max_age() -> timedelta:
    return current_app.config["REAUTH_MAX_AGE"]


def is_recent(reauthenticated_at: datetime | None, now: datetime | None = None) -> bool:
    """True if a re-authentication at ``reauthenticated_at`` still counts now."""
    if reauthenticated_at is None:
        return False
    age = (now or utcnow()) - reauthenticated_at
    return timedelta(0) <= age <= max_age()


def reauthenticate(
    user: StaffUser,
    session_row: StaffSession,
    password: str,
    code: str,
    *,
    origin: audit.ClientOrigin,
) -> ReauthOutcome:
    """Check ``password`` and the TOTP ``code``; on success stamp the session. Audited as
    ``user`` acting from ``origin``. COMMITS.

    A wrong password or code is recorded with ``portal.staff.login.record_failure`` (which may
    lock the account); the code is checked only after the password, and a code once accepted
    cannot be used again (``mfa.verify_totp``).
    """
    actor = audit.Actor.staff(user, origin)
    if not user.mfa_enabled or not user.totp_secret:
        return ReauthOutcome.NO_SECOND_FACTOR
    if login.is_locked(user):
        return ReauthOutcome.LOCKED
    if not passwords.verify_password(user.password_hash, password or ""):
        db.session.rollback()
        locked = login.record_failure(user, "reauth_password", origin=origin)
        return ReauthOutcome.LOCKED if locked else ReauthOutcome.WRONG
    if not mfa.verify_totp(user, code or ""):
        db.session.rollback()
        locked = login.record_failure(user, "reauth_totp", origin=origin)
        return ReauthOutcome.LOCKED if locked else ReauthOutcome.WRONG
    now = utcnow()
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_row.id, StaffSession.ended_at.is_(None))
        .values(reauthenticated_at=now)
    )
    login.clear_failures(user)
    audit.record(
        "auth.reauthenticated",
        target_type="staff_user",
        target_id=user.id,
        details={"session": session_row.id},
        actor=actor,
    )
    db.session.commit()
    return ReauthOutcome.OK
