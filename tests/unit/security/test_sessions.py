"""Server-side staff sessions: token storage, rotation, timeouts, ending sessions."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from flask import session
from sqlalchemy import select, update

from portal.extensions import db
from portal.models.staff import StaffSession, StaffUser
from portal.models.types import utcnow
from portal.security import sessions


@pytest.fixture
def user_id(make_staff):
    return make_staff("agent").id


def _user(user_id: int) -> StaffUser:
    return db.session.get(StaffUser, user_id)


def _row(row_id: int) -> StaffSession:
    db.session.expire_all()
    return db.session.get(StaffSession, row_id)


def _start(user_id: int, *, mfa_verified: bool = True) -> tuple[int, str]:
    row = sessions.start_session(_user(user_id), mfa_verified=mfa_verified)
    db.session.commit()
    return row.id, session["sid"]


def test_the_database_keeps_only_a_hash_of_the_token(app, user_id):
    with app.test_request_context():
        row_id, token = _start(user_id)
        row = _row(row_id)
        assert len(token) >= 43  # 256 random bits, URL-safe base64
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        stored = db.session.execute(select(StaffSession.token_hash)).scalars().all()
        assert token not in stored


def test_starting_a_session_ends_the_one_the_cookie_held_and_clears_the_cookie(app, user_id):
    with app.test_request_context():
        old_id, old_token = _start(user_id)
        session["planted"] = "by an attacker"
        new_id, new_token = _start(user_id)
        assert new_token != old_token and new_id != old_id
        assert "planted" not in session
        old = _row(old_id)
        assert old.ended_at is not None and old.end_reason == "rotated"
        assert _row(new_id).ended_at is None


def test_tokens_are_unique(app, user_id):
    with app.test_request_context():
        tokens = {_start(user_id)[1] for _ in range(20)}
    assert len(tokens) == 20


def test_a_live_session_loads_with_its_user(app, user_id):
    with app.test_request_context():
        row_id, _ = _start(user_id)
        loaded = sessions.load_session()
        assert loaded.row.id == row_id and loaded.user.id == user_id
        assert loaded.ended_reason is None


@pytest.mark.parametrize("cookie", [None, "", "unknown-token", 12345, ["x"]])
def test_a_missing_unknown_or_malformed_token_is_simply_not_logged_in(app, cookie):
    with app.test_request_context():
        if cookie is not None:
            session["sid"] = cookie
        loaded = sessions.load_session()
        assert loaded.row is None and loaded.user is None


def _age(row_id: int, **columns) -> None:
    db.session.execute(update(StaffSession).where(StaffSession.id == row_id).values(**columns))
    db.session.commit()


@pytest.mark.parametrize(
    ("columns", "mfa_verified", "reason"),
    [
        ({"last_seen_at": timedelta(minutes=15, seconds=1)}, True, "idle_timeout"),
        ({"created_at": timedelta(hours=10, seconds=1)}, True, "absolute_timeout"),
        ({"created_at": timedelta(minutes=5, seconds=1)}, False, "mfa_timeout"),
    ],
)
def test_timed_out_sessions_are_ended_with_a_reason(app, user_id, columns, mfa_verified, reason):
    with app.test_request_context():
        row_id, _ = _start(user_id, mfa_verified=mfa_verified)
        _age(row_id, **{name: utcnow() - ago for name, ago in columns.items()})
        loaded = sessions.load_session()
        assert loaded.user is None and loaded.ended_reason == reason
        assert "sid" not in session
        row = _row(row_id)
        assert row.ended_at is not None and row.end_reason == reason


def test_just_inside_the_limits_the_session_lives(app, user_id):
    with app.test_request_context():
        row_id, _ = _start(user_id)
        _age(
            row_id,
            last_seen_at=utcnow() - timedelta(minutes=14, seconds=50),
            created_at=utcnow() - timedelta(hours=9, minutes=59),
        )
        assert sessions.load_session().user is not None


def test_activity_moves_the_idle_clock_but_not_on_every_request(app, user_id):
    with app.test_request_context():
        row_id, _ = _start(user_id)
        recent = utcnow() - timedelta(seconds=10)
        _age(row_id, last_seen_at=recent)
        sessions.load_session()
        assert abs(_row(row_id).last_seen_at - recent) < timedelta(milliseconds=1)
        stale = utcnow() - timedelta(minutes=10)
        _age(row_id, last_seen_at=stale)
        sessions.load_session()
        assert _row(row_id).last_seen_at > utcnow() - timedelta(seconds=5)


def test_a_disabled_account_loses_its_session(app, user_id):
    with app.test_request_context():
        row_id, _ = _start(user_id)
        _user(user_id).is_active = False
        db.session.commit()
        loaded = sessions.load_session()
        assert loaded.user is None and loaded.ended_reason == "account_disabled"


def test_an_ended_session_stays_ended_and_says_why(app, user_id):
    with app.test_request_context():
        row_id, token = _start(user_id)
        sessions.end_user_sessions(user_id, "password_changed")
        db.session.commit()
        session["sid"] = token
        loaded = sessions.load_session()
        assert loaded.user is None and loaded.ended_reason == "password_changed"


def test_ending_a_users_sessions_can_keep_one(app, user_id, make_staff):
    other_user = make_staff("agent").id
    started = []
    for owner in (user_id, user_id, user_id, other_user):  # four browsers
        with app.test_request_context():
            started.append(_start(owner)[0])
    first, second, kept, others = started
    with app.test_request_context():
        ended = sessions.end_user_sessions(user_id, "password_changed", keep=_row(kept))
        db.session.commit()
        assert ended == 2
        assert _row(first).end_reason == "password_changed"
        assert _row(second).end_reason == "password_changed"
        assert _row(kept).ended_at is None
        assert _row(others).ended_at is None
        assert sessions.end_user_sessions(user_id, "again", keep=_row(kept)) == 0


def test_end_current_session_ends_only_the_cookie_session(app, user_id):
    with app.test_request_context():
        row_id, _ = _start(user_id)
        sessions.end_current_session("logout")
        db.session.commit()
        assert "sid" not in session
        assert _row(row_id).end_reason == "logout"
        sessions.end_current_session("logout")  # nothing left to end: no error


def test_proving_the_second_factor_issues_a_new_session(app, user_id):
    with app.test_request_context():
        row_id, token = _start(user_id, mfa_verified=False)
        new_row = sessions.mark_mfa_verified(_row(row_id))
        db.session.commit()
        assert new_row.id != row_id and new_row.mfa_verified
        assert session["sid"] != token
        assert _row(row_id).end_reason == "rotated"
