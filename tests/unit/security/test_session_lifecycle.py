"""A staff session's life: when it starts, what keeps it alive, where exactly its limits fall,
and that ending one browser's session never touches another's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from flask import session
from sqlalchemy import update

from portal.extensions import db
from portal.models.staff import StaffSession, StaffUser
from portal.models.types import utcnow
from portal.security import sessions
from portal.security.sessions import BACKGROUND_HEADER, CurrentStaff
from tests.support.web import login

IDLE = timedelta(minutes=15)  # SESSION_IDLE_TIMEOUT
LIFETIME = timedelta(hours=10)  # SESSION_ABSOLUTE_LIFETIME
MFA_PENDING = timedelta(minutes=5)  # MFA_PENDING_LIFETIME
TOUCH = timedelta(seconds=30)  # SESSION_TOUCH_INTERVAL
TICK = timedelta(microseconds=1)


class _StoppedClock(datetime):
    """Every ``utcnow()`` of the app (portal.models.types) reads ``instant``, set by the test."""

    instant = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.instant.astimezone(tz) if tz else cls.instant.replace(tzinfo=None)


@pytest.fixture
def clock(monkeypatch):
    """The app's clock, stopped: ``clock(at)`` sets it; it returns the instant set."""
    monkeypatch.setattr("portal.models.types.datetime", _StoppedClock)

    def set_to(at: datetime) -> datetime:
        _StoppedClock.instant = at
        return at

    return set_to


@pytest.fixture
def user_id(make_staff):
    return make_staff("agent").id


def _row(row_id: int) -> StaffSession:
    db.session.expire_all()
    return db.session.get(StaffSession, row_id)


def _start(user_id: int, *, mfa_verified: bool = True) -> tuple[int, str]:
    """Start a session in the current request context; returns its row id and cookie token."""
    row = sessions.start_session(db.session.get(StaffUser, user_id), mfa_verified=mfa_verified)
    db.session.commit()
    return row.id, session["sid"]


def _browsers(app, *owners: int) -> list[tuple[int, str]]:
    """One session per owner, each started in its own browser (request context)."""
    started = []
    for owner in owners:
        with app.test_request_context():
            started.append(_start(owner))
    return started


def _set(row_id: int, **columns) -> None:
    db.session.execute(update(StaffSession).where(StaffSession.id == row_id).values(**columns))
    db.session.commit()


# --- starting


def test_a_new_sessions_clocks_all_start_at_the_sign_in(app, user_id):
    with app.test_request_context():
        before = utcnow()
        row_id, _ = _start(user_id)
        after = utcnow()
        row = _row(row_id)
        assert before <= row.created_at <= after
        assert row.last_seen_at == row.created_at
        assert row.authenticated_at == row.created_at


def test_the_cookie_token_carries_exactly_256_random_bits(app, user_id):
    with app.test_request_context():
        _, token = _start(user_id)
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32


def test_the_session_cookie_lasts_only_as_long_as_the_browser(app, client, make_staff):
    """Closing the browser ends the sign-in: the cookie has no expiry date of its own."""
    response = login(client, make_staff("agent"))
    cookies = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("postern_session=")
    ]
    assert cookies, response.headers
    for cookie in cookies:
        assert "expires=" not in cookie.lower() and "max-age=" not in cookie.lower(), cookie


def test_what_pages_show_of_the_signed_in_person_outlives_the_database_row(app, make_staff):
    staff = make_staff("supervisor")
    with app.app_context():
        user = db.session.get(StaffUser, staff.id)
        user.display_name = "Ada Lovelace"
        db.session.commit()
        shown = CurrentStaff.of(db.session.get(StaffUser, staff.id))
        db.session.rollback()  # expires the row; the copy needs no database
        assert shown == CurrentStaff(staff.username, "Ada Lovelace", "supervisor", staff.id)
    assert CurrentStaff.of(None) is None


# --- ending one browser's session leaves the others alone


def test_a_timed_out_session_ends_alone(app, user_id, make_staff):
    other_user = make_staff("agent").id
    (stale, stale_token), (mine, _), (theirs, _) = _browsers(app, user_id, user_id, other_user)
    with app.test_request_context():
        _set(stale, last_seen_at=utcnow() - IDLE - timedelta(seconds=1))
        session["sid"] = stale_token
        assert sessions.load_session().ended_reason == "idle_timeout"
        assert _row(stale).end_reason == "idle_timeout"
        assert _row(mine).ended_at is None and _row(theirs).ended_at is None


def test_signing_out_ends_only_this_browsers_session(app, user_id, make_staff):
    other_user = make_staff("agent").id
    (leaving, token), (mine, _), (theirs, _) = _browsers(app, user_id, user_id, other_user)
    with app.test_request_context():
        session["sid"] = token
        sessions.end_current_session("logout")
        db.session.commit()
        assert _row(leaving).end_reason == "logout"
        assert _row(mine).ended_at is None and _row(theirs).ended_at is None


def test_signing_out_of_a_session_already_ended_keeps_why_and_when_it_ended(app, user_id):
    ((row_id, token),) = _browsers(app, user_id)
    with app.test_request_context():
        sessions.end_user_sessions(user_id, "password_changed")
        db.session.commit()
        ended_at = _row(row_id).ended_at
        session["sid"] = token  # the browser still holds the cookie
        sessions.end_current_session("logout")
        db.session.commit()
        row = _row(row_id)
        assert row.end_reason == "password_changed" and row.ended_at == ended_at


# --- the sign-in page says why the last session ended, once


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("idle", "You were signed out after 15 minutes without activity."),
        ("password", "Your password was changed, so this session ended. Sign in again."),
    ],
)
def test_the_sign_in_page_says_once_why_the_session_ended(app, client, make_staff, how, message):
    staff = make_staff("agent")
    login(client, staff)
    with app.app_context():
        if how == "idle":
            db.session.execute(
                update(StaffSession)
                .where(StaffSession.user_id == staff.id)
                .values(last_seen_at=utcnow() - IDLE - timedelta(seconds=1))
            )
        else:
            sessions.end_user_sessions(staff.id, "password_changed")
        db.session.commit()
    page = client.get("/agent/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert message in client.get("/login").get_data(as_text=True)
    assert message not in client.get("/login").get_data(as_text=True)


def test_with_nothing_to_say_the_sign_in_page_says_nothing(app):
    with app.test_request_context():
        assert sessions.pop_end_reason() is None
        session["ended"] = "idle_timeout"
        assert sessions.pop_end_reason() == "idle_timeout"
        assert sessions.pop_end_reason() is None


# --- what counts as activity


def test_background_polls_do_not_keep_a_session_alive(app, user_id):
    ((row_id, token),) = _browsers(app, user_id)
    stale = utcnow() - timedelta(minutes=10)
    with app.app_context():
        _set(row_id, last_seen_at=stale)
    with app.test_request_context(headers={BACKGROUND_HEADER: "poll"}):
        session["sid"] = token
        assert sessions.load_session().user is not None
        assert _row(row_id).last_seen_at == stale
    with app.test_request_context():
        session["sid"] = token
        sessions.load_session()
        assert _row(row_id).last_seen_at > stale + timedelta(minutes=9)


# --- the limits, to the microsecond (PCI DSS 8.2.8: idle for MORE than 15 minutes)


def _load_at(at: datetime, token: str, clock) -> sessions.LoadedSession:
    clock(at)
    session["sid"] = token
    return sessions.load_session()


def test_idle_for_exactly_15_minutes_lives_a_microsecond_more_ends(app, user_id, clock):
    start = clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with app.test_request_context():
        row_id, token = _start(user_id)
        assert _load_at(start + IDLE, token, clock).user is not None
        assert _row(row_id).last_seen_at == start + IDLE
        loaded = _load_at(start + IDLE + IDLE + TICK, token, clock)
        assert loaded.ended_reason == "idle_timeout"


def test_a_session_lives_exactly_10_hours_and_no_longer(app, user_id, clock):
    start = clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with app.test_request_context():
        _, token = _start(user_id)
        at = start
        while at + IDLE < start + LIFETIME:  # kept busy, never idle
            at += IDLE
            assert _load_at(at, token, clock).user is not None
        assert _load_at(start + LIFETIME, token, clock).user is not None
        loaded = _load_at(start + LIFETIME + TICK, token, clock)
        assert loaded.ended_reason == "absolute_timeout"


def test_the_second_factor_may_take_exactly_5_minutes_and_no_longer(app, user_id, clock):
    start = clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with app.test_request_context():
        _, token = _start(user_id, mfa_verified=False)
        assert _load_at(start + MFA_PENDING, token, clock).user is not None
        loaded = _load_at(start + MFA_PENDING + TICK, token, clock)
        assert loaded.ended_reason == "mfa_timeout"


def test_activity_is_written_down_once_more_than_30_seconds_have_passed(app, user_id, clock):
    start = clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with app.test_request_context():
        row_id, token = _start(user_id)
        _load_at(start + TOUCH, token, clock)
        assert _row(row_id).last_seen_at == start
        _load_at(start + TOUCH + TICK, token, clock)
        assert _row(row_id).last_seen_at == start + TOUCH + TICK
