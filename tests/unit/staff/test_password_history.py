"""Password history (PCI DSS 8.3.7): the current password and the previous four are refused,
compared through argon2 and kept only as hashes; older ones are forgotten and allowed again."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from portal.audit import Actor
from portal.extensions import db
from portal.models.staff import PasswordHistory, StaffUser
from portal.security.passwords import verify_password
from portal.staff import accounts, login, password_history
from portal.staff.password_history import PASSWORD_HISTORY_DEPTH, PasswordReusedError
from tests.support.staff import DEFAULT_PASSWORD

PASSWORDS = [f"mossy granite lantern {n} orbit" for n in range(1, 8)]


def _user(user_id: int) -> StaffUser:
    db.session.expire_all()
    return db.session.get(StaffUser, user_id)


def _change(user_id: int, password: str) -> None:
    login.set_password(_user(user_id), password)
    db.session.commit()


def test_the_policy_asks_for_the_last_four_as_pci_dss_does():
    assert PASSWORD_HISTORY_DEPTH == 4


def test_the_current_and_the_previous_four_are_refused_the_fifth_is_allowed(app, make_staff):
    user_id = make_staff("agent").id
    with app.app_context():
        history = [DEFAULT_PASSWORD, *PASSWORDS[:5]]  # six passwords, the last one current
        for password in history[1:]:
            _change(user_id, password)

        for recent in history[-5:]:  # the current one and the four before it
            with pytest.raises(PasswordReusedError, match="used this password recently"):
                login.set_password(_user(user_id), recent)
            db.session.rollback()
        _change(user_id, history[0])  # six changes ago: allowed again
        assert verify_password(_user(user_id).password_hash, history[0])


def test_the_message_says_what_to_do():
    assert password_history.REUSED_MESSAGE == (
        "You have used this password recently. Choose one that is different from your "
        "current password and your previous 4."
    )


def test_the_history_keeps_only_argon2_hashes_and_only_four_per_account(app, make_staff):
    user_id = make_staff("agent").id
    other_id = make_staff("agent").id
    with app.app_context():
        for password in PASSWORDS:
            _change(user_id, password)
        _change(other_id, PASSWORDS[0])

        stored = db.session.execute(
            text("SELECT user_id, password_hash FROM staff_password_history ORDER BY id")
        ).all()
        mine = [h for owner, h in stored if owner == user_id]
        assert len(mine) == PASSWORD_HISTORY_DEPTH
        assert [h for owner, h in stored if owner == other_id] and len(stored) == 5
        dump = repr(stored)
        assert all(h.startswith("$argon2id$") for _, h in stored)
        assert not any(p in dump for p in [DEFAULT_PASSWORD, *PASSWORDS])


def test_a_new_account_starts_with_an_empty_history(app, make_staff):
    user_id = make_staff("agent").id
    with app.app_context():
        assert (
            db.session.scalars(
                select(PasswordHistory).where(PasswordHistory.user_id == user_id)
            ).all()
            == []
        )


def test_a_temporary_password_is_not_kept_but_the_one_it_replaced_is(app, make_staff):
    admin_id = make_staff("admin", mfa=True).id
    user_id = make_staff("agent").id
    with app.app_context():
        actor = Actor.staff(_user(admin_id))
        reset = accounts.reset_password(_user(user_id), actor=actor)
        db.session.commit()
        with pytest.raises(PasswordReusedError):  # the temporary one is the current one
            login.set_password(_user(user_id), reset.temporary_password)
        db.session.rollback()
        with pytest.raises(PasswordReusedError):  # the one the reset replaced
            login.set_password(_user(user_id), DEFAULT_PASSWORD)
        db.session.rollback()
        _change(user_id, PASSWORDS[0])
        assert not _user(user_id).password_must_change

        kept = db.session.scalars(
            select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user_id)
        ).all()
        assert len(kept) == 1  # the original password; the temporary one left no trace
        assert verify_password(kept[0], DEFAULT_PASSWORD)
