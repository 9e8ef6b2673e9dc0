"""Staff account management, shared by ``flask users ...`` and the back office's staff pages.

Knows nothing of HTTP. Each function joins the current transaction and audits what it did
(role names, team names and counts; never a password or secret); the caller commits.
Sessions end whenever an account's rights shrink or change (disabled, new role, second factor
removed, password reset), so the change applies at once on every app process.

Nobody may change their own role, disable themselves, or reset their own second factor or
password: an account cannot raise its own rights, and cannot lock out the last person able to
undo it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from portal import audit
from portal.audit import Actor
from portal.card_numbers import contains_pan
from portal.extensions import db
from portal.models.staff import StaffUser, Team
from portal.security import passwords, sessions
from portal.security.authz import Role
from portal.staff import login, mfa, passkeys

MAX_TEAM_NAME = 80


class StaffRuleError(ValueError):
    """A staff-management rule was broken; the message is a plain sentence."""


def _refuse_self(user: StaffUser, actor: Actor, what: str) -> None:
    if actor.id is not None and actor.id == user.id:
        raise StaffRuleError(f"You cannot {what} your own account. Ask another administrator.")


def _team_name(name: str | None) -> str | None:
    text = " ".join((name or "").split())
    if not text:
        return None
    if len(text) > MAX_TEAM_NAME or contains_pan(text):
        raise StaffRuleError(f"Give a team name of at most {MAX_TEAM_NAME} characters.")
    return text


def get_or_create_team(name: str | None) -> Team | None:
    name = _team_name(name)
    if not name:
        return None
    team = db.session.execute(select(Team).where(Team.name == name)).scalar_one_or_none()
    if team is None:
        team = Team(name=name)
        db.session.add(team)
        db.session.flush()
    return team


def teams() -> list[Team]:
    return list(db.session.execute(select(Team).order_by(Team.name)).scalars())


def create_staff(
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    team: str | None = None,
    email: str | None = None,
    actor: Actor,
) -> StaffUser:
    """Create a staff account, enforcing the password policy. Raises ValueError (taken
    username, unknown role, bad team name) or PasswordPolicyError. Caller commits."""
    if login.username_taken(username):
        raise ValueError(f"The username {username!r} is taken. Choose another.")
    team_row = get_or_create_team(team)
    user = StaffUser(
        username=login.normalise_username(username),
        display_name=display_name or username,
        role=Role(role).value,
        team=team_row,
        email=email,
        password_hash="!",  # noqa: S106  (unusable placeholder, replaced below)
    )
    login.set_password(user, password)
    db.session.add(user)
    db.session.flush()
    audit.record(
        "staff.created",
        target_type="staff_user",
        target_id=user.id,
        details={"role": user.role, "team": team_row.name if team_row else None},
        actor=actor,
    )
    return user


def disable(user: StaffUser, *, actor: Actor) -> int:
    """Disable the account and end its sessions; returns how many ended."""
    _refuse_self(user, actor, "disable")
    user.is_active = False
    ended = sessions.end_user_sessions(user.id, "account_disabled")
    audit.record(
        "staff.disabled",
        target_type="staff_user",
        target_id=user.id,
        details={"sessions_ended": ended},
        actor=actor,
    )
    return ended


def end_sessions(user: StaffUser, *, actor: Actor) -> int:
    """End every session of the account (the lost-device action: a laptop or phone left
    somewhere loses its access on its next request, on every app process); returns how many
    ended. The account stays usable: its owner signs in again."""
    _refuse_self(user, actor, "end all the sessions of")
    ended = sessions.end_user_sessions(user.id, "ended_by_admin")
    audit.record(
        "staff.sessions_ended",
        target_type="staff_user",
        target_id=user.id,
        details={"sessions_ended": ended},
        actor=actor,
    )
    return ended


def enable(user: StaffUser, *, actor: Actor) -> None:
    user.is_active = True
    audit.record("staff.enabled", target_type="staff_user", target_id=user.id, actor=actor)


def set_role(user: StaffUser, role: str, *, actor: Actor) -> int:
    """Give the account ``role``; its sessions end so the new rights apply at once. Returns
    how many sessions ended (0 and nothing audited if the role is unchanged)."""
    _refuse_self(user, actor, "change the role of")
    new = Role(role).value
    old = user.role
    if new == old:
        return 0
    user.role = new
    ended = sessions.end_user_sessions(user.id, "role_changed")
    audit.record(
        "staff.role_changed",
        target_type="staff_user",
        target_id=user.id,
        details={"from": old, "to": new, "sessions_ended": ended},
        actor=actor,
    )
    return ended


def set_team(user: StaffUser, team: str | None, *, actor: Actor) -> bool:
    """Move the account to ``team`` (created if new; None = no team). True if it changed."""
    team_row = get_or_create_team(team)
    new_id = team_row.id if team_row else None
    if new_id == user.team_id:
        return False
    old = user.team.name if user.team else None
    user.team = team_row
    audit.record(
        "staff.team_changed",
        target_type="staff_user",
        target_id=user.id,
        details={"from": old, "to": team_row.name if team_row else None},
        actor=actor,
    )
    return True


def reset_mfa(user: StaffUser, *, actor: Actor) -> int:
    """Remove the account's second factor (it enrols again at next login if its role needs
    one) and end its sessions; returns how many ended."""
    _refuse_self(user, actor, "reset the second factor of")
    mfa.reset(user)
    removed = passkeys.remove_all(user.id)  # passkeys are second factors too
    ended = sessions.end_user_sessions(user.id, "mfa_reset")
    audit.record(
        "staff.mfa_reset",
        target_type="staff_user",
        target_id=user.id,
        details={"sessions_ended": ended, "passkeys_removed": removed},
        actor=actor,
    )
    return ended


@dataclass(frozen=True)
class PasswordReset:
    """What an administrator's reset did. ``temporary_password`` is shown to them once and
    stored nowhere but as the account's argon2 hash."""

    temporary_password: str
    sessions_ended: int
    second_factor_reset: bool

    def __repr__(self) -> str:  # never the password
        return (
            f"<PasswordReset sessions_ended={self.sessions_ended} "
            f"second_factor_reset={self.second_factor_reset}>"
        )


def reset_password(
    user: StaffUser, *, lost_authenticator: bool = False, actor: Actor
) -> PasswordReset:
    """Give the account a random temporary password that must be changed at its next sign-in
    (PCI DSS 8.3.5), end all its sessions at once, and lift a lockout. The next sign-in proves
    the second factor again: no session survives to remember it. With ``lost_authenticator``
    the second factor is removed too, so it is enrolled again (if the role needs one) before
    anything else. Audited as ``staff.password_reset`` (never the password). Caller commits.
    """
    _refuse_self(user, actor, "reset the password of")
    temporary = passwords.temporary_password(
        username=user.username, min_length=current_app.config["PASSWORD_MIN_LENGTH"]
    )
    login.set_password(user, temporary)  # keeps the old password in the history
    user.password_must_change = True
    was_locked = login.is_locked(user)
    login.clear_failures(user)
    second_factor_reset = bool(lost_authenticator and (user.mfa_enabled or user.totp_key_id))
    if second_factor_reset:
        mfa.reset(user)
    ended = sessions.end_user_sessions(user.id, "password_reset")
    audit.record(
        "staff.password_reset",
        target_type="staff_user",
        target_id=user.id,
        details={
            "sessions_ended": ended,
            "second_factor_reset": second_factor_reset,
            "unlocked": was_locked,
        },
        actor=actor,
    )
    return PasswordReset(temporary, ended, second_factor_reset)
