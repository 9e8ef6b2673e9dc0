"""Password history (PCI DSS 8.3.7): a new password may be neither the current one nor any of
the previous ``PASSWORD_HISTORY_DEPTH``.

Old passwords are kept only as the argon2 hashes they already had and compared with argon2's
own verify, never in clear. A temporary password set by an administrator is not kept when it
is replaced: the person never chose it, and it must not push one of their own out of the
history. ``portal.staff.login.set_password`` calls both functions, so every way a password is
set (the change-password page, an administrator's reset, the CLI) obeys them.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from portal.extensions import db
from portal.models.staff import PasswordHistory, StaffUser
from portal.models.types import utcnow
from portal.security import passwords

#: Previous passwords refused on top of the current one (PCI DSS 8.3.7 asks for four).
PASSWORD_HISTORY_DEPTH = 4


class PasswordReusedError(passwords.PasswordPolicyError):
    """The new password is the current one or one of the last few."""


REUSED_MESSAGE = (
    "You have used this password recently. Choose one that is different from your current "
    f"password and your previous {PASSWORD_HISTORY_DEPTH}."
)


def _previous_hashes(user: StaffUser) -> list[str]:
    if user.id is None:
        return []
    return list(
        db.session.execute(
            select(PasswordHistory.password_hash)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.replaced_at.desc(), PasswordHistory.id.desc())
            .limit(PASSWORD_HISTORY_DEPTH)
        ).scalars()
    )


def refuse_reuse(user: StaffUser, new_password: str) -> None:
    """Raise PasswordReusedError if ``new_password`` is the account's current password or one
    of its previous ``PASSWORD_HISTORY_DEPTH``."""
    for known in (user.password_hash, *_previous_hashes(user)):
        if known and passwords.verify_password(known, new_password):
            raise PasswordReusedError(REUSED_MESSAGE)


def remember_replaced(user: StaffUser) -> None:
    """Keep the account's current password hash in its history (it is about to be replaced)
    and forget what is older than the newest ``PASSWORD_HISTORY_DEPTH``. Caller commits."""
    if user.id is None or user.password_must_change:
        return  # a new account has nothing to keep; a temporary password is not theirs
    db.session.add(
        PasswordHistory(user_id=user.id, password_hash=user.password_hash, replaced_at=utcnow())
    )
    db.session.flush()
    keep = (
        select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.replaced_at.desc(), PasswordHistory.id.desc())
        .limit(PASSWORD_HISTORY_DEPTH)
    )
    db.session.execute(
        delete(PasswordHistory).where(
            PasswordHistory.user_id == user.id, PasswordHistory.id.not_in(keep)
        )
    )
