"""Staff authentication rules, independent of HTTP.

Every counter that guards a credential is changed with a conditional UPDATE in the database, so
that concurrent attempts on several app processes can neither skip a lockout nor lose a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from flask import current_app
from sqlalchemy import func, select, update

from portal import audit
from portal.extensions import db
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from portal.security import passwords
from portal.staff import password_history


class LoginOutcome(Enum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"


@dataclass
class LoginResult:
    outcome: LoginOutcome
    user: StaffUser | None = None


def normalise_username(username: str) -> str:
    return username.strip().lower()


def find_user(username: str) -> StaffUser | None:
    return db.session.execute(
        select(StaffUser).where(StaffUser.username == normalise_username(username))
    ).scalar_one_or_none()


def is_locked(user: StaffUser) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def record_failure(user: StaffUser, factor: str, *, origin: audit.ClientOrigin) -> bool:
    """Count one failed attempt (password or second factor) by ``user`` from ``origin``; lock
    the account at the limit.

    Returns True if this failure locked the account. Commits.
    """
    actor = audit.Actor.staff(user, origin)
    config = current_app.config
    count = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(failed_login_count=StaffUser.failed_login_count + 1)
        .returning(StaffUser.failed_login_count)
    ).scalar_one()
    audit.record(
        "auth.login_failed",
        outcome="failure",
        target_type="staff_user",
        target_id=user.id,
        details={"factor": factor, "consecutive_failures": count},
        actor=actor,
    )
    locked = count >= config["LOGIN_MAX_FAILURES"]
    if locked:
        db.session.execute(
            update(StaffUser)
            .where(StaffUser.id == user.id)
            .values(locked_until=utcnow() + config["LOGIN_LOCKOUT"], failed_login_count=0)
        )
        audit.record(
            "auth.account_locked",
            outcome="failure",
            target_type="staff_user",
            target_id=user.id,
            details={"minutes": int(config["LOGIN_LOCKOUT"].total_seconds() // 60)},
            actor=actor,
        )
    db.session.commit()
    return locked


def clear_failures(user: StaffUser) -> None:
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(failed_login_count=0, locked_until=None)
    )


def _spend_the_same_time(password: str) -> None:
    fast = current_app.config.get("ARGON2_FAST", False)
    passwords.verify_password(passwords.dummy_hash(fast), password)


def check_password(username: str, password: str, *, origin: audit.ClientOrigin) -> LoginResult:
    """Check a username and password typed at ``origin``, applying lockout. Commits the audit
    trail.

    A wrong username, a wrong password and a disabled account all return BAD_CREDENTIALS
    after the same amount of work, so the answer reveals nothing about which accounts exist.
    """
    user = find_user(username)
    if user is None or not user.is_active:
        _spend_the_same_time(password)
        # The typed username is not logged: people type passwords into the wrong box.
        audit.record(
            "auth.login_failed",
            outcome="failure",
            details={"reason": "unknown_or_disabled_account"},
            actor=audit.ANONYMOUS.at(origin),
        )
        db.session.commit()
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if is_locked(user):
        _spend_the_same_time(password)
        audit.record(
            "auth.login_refused_locked",
            outcome="failure",
            target_type="staff_user",
            target_id=user.id,
            actor=audit.Actor.staff(user, origin),
        )
        db.session.commit()
        return LoginResult(LoginOutcome.LOCKED, user)
    if not passwords.verify_password(user.password_hash, password):
        locked = record_failure(user, "password", origin=origin)
        return LoginResult(LoginOutcome.LOCKED if locked else LoginOutcome.BAD_CREDENTIALS, user)
    fast = current_app.config.get("ARGON2_FAST", False)
    if passwords.needs_rehash(user.password_hash, fast=fast):
        user.password_hash = passwords.hash_password(password, fast=fast)
    return LoginResult(LoginOutcome.OK, user)


def complete_login(user: StaffUser, *, factors: str, origin: audit.ClientOrigin) -> None:
    """Record a successful login by ``user`` from ``origin`` (all required factors proven).
    Caller commits."""
    clear_failures(user)
    user.last_login_at = utcnow()
    audit.record(
        "auth.login",
        target_type="staff_user",
        target_id=user.id,
        details={"factors": factors},
        actor=audit.Actor.staff(user, origin),
    )


def set_password(user: StaffUser, new_password: str) -> None:
    """Check the policy and the password history, then store a new argon2id hash. Raises
    PasswordPolicyError (PasswordReusedError for a recent password)."""
    config = current_app.config
    passwords.check_password_policy(
        new_password, username=user.username, min_length=config["PASSWORD_MIN_LENGTH"]
    )
    password_history.refuse_reuse(user, new_password)
    password_history.remember_replaced(user)
    user.password_hash = passwords.hash_password(
        new_password, fast=config.get("ARGON2_FAST", False)
    )
    user.password_changed_at = utcnow()
    user.password_must_change = False


def username_taken(username: str) -> bool:
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.username == normalise_username(username))
        )
    )
