"""The authentication service: outcomes of a password check and the failure counter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.audit import NO_ORIGIN
from portal.extensions import db
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from portal.security.passwords import PasswordPolicyError
from portal.staff import login
from tests.support.staff import DEFAULT_PASSWORD


def _user(user_id: int) -> StaffUser:
    db.session.expire_all()
    return db.session.get(StaffUser, user_id)


@pytest.fixture
def user_id(make_staff):
    return make_staff("agent", username="agent.amy").id


def test_check_password_outcomes(app, user_id):
    with app.test_request_context():
        ok = login.check_password("Agent.Amy", DEFAULT_PASSWORD, origin=NO_ORIGIN)
        assert ok.outcome is login.LoginOutcome.OK and ok.user.id == user_id
        assert (
            login.check_password("agent.amy", "wrong", origin=NO_ORIGIN).outcome.name
            == "BAD_CREDENTIALS"
        )
        assert login.check_password("nobody", DEFAULT_PASSWORD, origin=NO_ORIGIN).user is None
        _user(user_id).locked_until = utcnow() + timedelta(minutes=1)
        db.session.commit()
        locked = login.check_password("agent.amy", DEFAULT_PASSWORD, origin=NO_ORIGIN)
        assert locked.outcome is login.LoginOutcome.LOCKED


def test_the_failure_counter_locks_at_the_limit_and_restarts(app, user_id):
    with app.test_request_context():
        for expected in range(1, 10):
            assert not login.record_failure(_user(user_id), "password", origin=NO_ORIGIN)
            assert _user(user_id).failed_login_count == expected
        assert login.record_failure(_user(user_id), "totp", origin=NO_ORIGIN)
        user = _user(user_id)
        assert user.failed_login_count == 0
        assert login.is_locked(user)
        user.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert not login.is_locked(_user(user_id))


def test_the_limit_and_the_lock_length_come_from_the_settings(app_factory, make_staff):
    strict = app_factory(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT=timedelta(hours=2))
    user_id = make_staff("agent").id
    with strict.test_request_context():
        assert not login.record_failure(_user(user_id), "password", origin=NO_ORIGIN)
        assert not login.record_failure(_user(user_id), "password", origin=NO_ORIGIN)
        assert login.record_failure(_user(user_id), "password", origin=NO_ORIGIN)
        remaining = _user(user_id).locked_until - utcnow()
        assert timedelta(hours=1, minutes=59) < remaining <= timedelta(hours=2)


def test_set_password_applies_the_policy_with_the_username(app, user_id):
    with app.test_request_context():
        user = _user(user_id)
        with pytest.raises(PasswordPolicyError, match="username"):
            login.set_password(user, "hello agent.amy here")
        before = user.password_changed_at
        login.set_password(user, "a different long passphrase")
        assert user.password_changed_at >= before


def test_a_fast_test_hash_is_upgraded_at_login_when_running_at_full_strength(
    app_factory, make_staff
):
    user_id = make_staff("agent").id
    full_strength = app_factory(ARGON2_FAST=False)
    with full_strength.test_request_context():
        assert (
            login.check_password(
                _user(user_id).username, DEFAULT_PASSWORD, origin=NO_ORIGIN
            ).outcome.name
            == "OK"
        )
        db.session.commit()
        assert "$m=65536,t=3,p=4$" in _user(user_id).password_hash
