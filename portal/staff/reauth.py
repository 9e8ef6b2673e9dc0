"""Re-authentication ("confirm it's you") before a sensitive action: refunds and their
approval, revealing a customer's data (one field, or all of it in a subject-access export),
erasing it, changing staff accounts.

Password AND a second factor are proven again: a fresh authenticator-app code, or a passkey
with user verification (the device's PIN or biometric). Success is stamped on the current
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
from portal.staff import login, mfa, passkey_challenges, passkey_sign_in, passkeys


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
    mark_reauthenticated(user, session_row, factor="password+totp", origin=origin)
    db.session.commit()
    return ReauthOutcome.OK


def has_usable_password(user: StaffUser) -> bool:
    """False for an account made by single sign-on, whose stored hash ("!...") matches no
    password: it can confirm only through its provider or a passkey."""
    return bool(user.password_hash) and not user.password_hash.startswith("!")


def has_passkey(user: StaffUser) -> bool:
    return bool(passkeys.passkeys_of(user.id))


def passkey_options(user: StaffUser) -> passkeys.Options:
    """Start confirming with one of ``user``'s passkeys (user verification required; the
    challenge is single-use and kept on the server). Caller commits."""
    return passkey_sign_in.authentication_options("reauth", user)


def check_passkey(
    user: StaffUser, token: str | None, credential: dict, *, origin: audit.ClientOrigin
) -> ReauthOutcome:
    """Check ``credential``, the browser's answer to ``passkey_options``: one of ``user``'s own
    passkeys, user verified, on the challenge named by ``token``, its sign counter moving
    forward (``portal.staff.passkey_sign_in``). A refusal is audited and counted towards the
    lockout. Stamps nothing: the caller decides what the proof is for. COMMITS on failure."""
    try:
        passkey_sign_in.authenticate(token, credential, "reauth", user=user, origin=origin)
    except passkey_sign_in.PasskeyRefused:
        db.session.commit()  # the refusal's audit row; the challenge stays used
        locked = login.record_failure(user, "reauth_passkey", origin=origin)
        return ReauthOutcome.LOCKED if locked else ReauthOutcome.WRONG
    return ReauthOutcome.OK


def reauthenticate_with_passkey(
    user: StaffUser,
    session_row: StaffSession,
    password: str,
    token: str | None,
    credential: dict,
    *,
    origin: audit.ClientOrigin,
) -> ReauthOutcome:
    """Check ``password``, then a passkey of ``user`` (``check_passkey``); on success stamp
    the session, audited with factor ``password+passkey``. COMMITS.

    The challenge named by ``token`` is used up whatever happens, so an answer is never tried
    twice, even after a wrong password."""
    if not has_passkey(user):
        passkey_challenges.take(token, "reauth")
        db.session.commit()
        return ReauthOutcome.NO_SECOND_FACTOR
    if login.is_locked(user):
        return ReauthOutcome.LOCKED
    if not passwords.verify_password(user.password_hash, password or ""):
        db.session.rollback()
        passkey_challenges.take(token, "reauth")
        locked = login.record_failure(user, "reauth_password", origin=origin)  # commits
        return ReauthOutcome.LOCKED if locked else ReauthOutcome.WRONG
    outcome = check_passkey(user, token, credential, origin=origin)
    if outcome is not ReauthOutcome.OK:
        return outcome
    mark_reauthenticated(user, session_row, factor="password+passkey", origin=origin)
    db.session.commit()
    return ReauthOutcome.OK


def mark_reauthenticated(
    user: StaffUser, session_row: StaffSession, *, factor: str, origin: audit.ClientOrigin
) -> None:
    """Stamp ``session_row`` as re-authenticated now and audit it, ``factor`` saying how it
    was proven (``password+totp``, ``password+passkey``, or ``sso:<provider>...`` from
    ``portal.sso.reauth``): one column and one audit action, whichever way. Caller commits."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_row.id, StaffSession.ended_at.is_(None))
        .values(reauthenticated_at=utcnow())
    )
    login.clear_failures(user)
    audit.record(
        "auth.reauthenticated",
        target_type="staff_user",
        target_id=user.id,
        details={"session": session_row.id, "factor": factor},
        actor=audit.Actor.staff(user, origin),
    )
