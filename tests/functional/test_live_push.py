"""The agent panel pushed (portal.live_push): a change reaches the agent's own stream as the
panel the poll gives, never another agent's; and the stream obeys the staff session's rules
(PCI DSS 8.2.8): it is not activity, and it closes on a session ended elsewhere, on the recheck
and at the idle deadline. PostgreSQL only (LISTEN/NOTIFY); the SQLite pass checks that the
console is left polling there.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.support.capture import create_direct, path_of
from tests.support.database import ON_POSTGRES, needs_postgres
from tests.support.event_stream import EventReader
from tests.support.web import signed_in

STREAM = "/agent/api/stream"
#: What a browser's EventSource sends: no X-Postern-Background header, only this.
EVENT_SOURCE = {"Accept": "text/event-stream"}

pg_only = needs_postgres("the push service listens with LISTEN/NOTIFY")


@pytest.fixture
def push_app(app_factory):
    """An app that is the push service (config/gunicorn-push.conf.py sets this), with quick
    keep-alives; every hub it started is stopped after the test."""
    built = []

    def build(**overrides):
        app = app_factory(LIVE_PUSH_SERVICE=True, LIVE_PUSH_HEARTBEAT_SECONDS=1.0, **overrides)
        built.append(app)
        return app

    yield build
    from portal import live_push

    for app in built:
        hub = app.extensions.get(live_push._HUB_KEY)
        if hub is not None:
            hub.stop()


def open_stream(client) -> EventReader:
    response = client.get(STREAM, headers=EVENT_SOURCE, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    return EventReader(response.iter_encoded())


def staff_maker(app):
    from tests.support.staff import create_staff_account

    counter = {"n": 0}

    def make(role="agent", **options):
        counter["n"] += 1
        return create_staff_account(app, role, f"push{role}{counter['n']}", **options)

    return make


def session_row(app, user_id: int):
    from portal.extensions import db
    from portal.models.staff import StaffSession

    with app.app_context():
        row = db.session.execute(
            select(StaffSession)
            .where(StaffSession.user_id == user_id)
            .order_by(StaffSession.id.desc())
        ).scalar()
        db.session.expunge(row)
        return row


def set_session(app, session_id: int, **values) -> None:
    from portal.extensions import db
    from portal.models.staff import StaffSession

    with app.app_context():
        db.session.execute(
            update(StaffSession).where(StaffSession.id == session_id).values(**values)
        )
        db.session.commit()


def end_sessions_of(app, user_id: int, reason: str = "logout") -> None:
    from portal.extensions import db
    from portal.security.sessions import end_user_sessions

    with app.app_context():
        end_user_sessions(user_id, reason)
        db.session.commit()


@pg_only
def test_a_customer_action_reaches_the_agents_stream_as_the_polled_panel(push_app):
    app = push_app()
    client, agent = signed_in(app, staff_maker(app))
    public_id, url = create_direct(app, agent.id)
    stream = open_stream(client)
    stream.until("ready")

    began = time.monotonic()
    app.test_client().get(path_of(url))  # the customer opens the link
    pushed = json.loads(stream.until("panel", timeout=5).data)
    took = time.monotonic() - began

    polled = client.get(f"/agent/api/requests/{public_id}/status").get_json()
    assert pushed == polled
    assert pushed["status"] == "opened"
    print(f"customer action -> pushed panel: {took * 1000:.0f} ms")
    end_sessions_of(app, agent.id)
    assert stream.until("ended").data == "logout"
    assert stream.ended()


@pg_only
def test_another_agents_requests_never_reach_the_stream(push_app):
    app = push_app()
    make = staff_maker(app)
    client, agent = signed_in(app, make)
    other = make("agent")
    _, theirs = create_direct(app, other.id, reference="THEIRS-1")
    mine_id, mine = create_direct(app, agent.id, reference="MINE-1")
    stream = open_stream(client)
    stream.until("ready")

    app.test_client().get(path_of(theirs))  # first: the other agent's customer
    app.test_client().get(path_of(mine))
    pushed = json.loads(stream.until("panel").data)
    assert pushed["id"] == mine_id  # the first panel pushed is the agent's own
    assert all(json.loads(e.data)["id"] == mine_id for e in stream.seen if e.name == "panel")
    end_sessions_of(app, agent.id)
    stream.until("ended")


@pg_only
def test_a_supervisor_also_hears_their_teams_requests(push_app):
    app = push_app()
    make = staff_maker(app)
    client, supervisor = signed_in(app, make, "supervisor", team="North")
    agent = make("agent", team="North")
    public_id, url = create_direct(app, agent.id)
    stream = open_stream(client)
    stream.until("ready")

    app.test_client().get(path_of(url))
    assert json.loads(stream.until("panel").data)["id"] == public_id
    end_sessions_of(app, supervisor.id)
    stream.until("ended")


@pg_only
def test_a_session_ended_elsewhere_closes_the_stream_at_once(push_app):
    # The recheck is set far off: only the notification can close the stream in time.
    app = push_app(LIVE_PUSH_RECHECK_SECONDS=60.0)
    client, agent = signed_in(app, staff_maker(app))
    stream = open_stream(client)
    stream.until("ready")

    began = time.monotonic()
    end_sessions_of(app, agent.id, "signed_out_elsewhere")
    assert stream.until("ended", timeout=5).data == "signed_out_elsewhere"
    assert stream.ended()
    assert time.monotonic() - began < 5


@pg_only
def test_the_recheck_closes_a_stream_whose_session_timed_out_unnoticed(push_app):
    """A change no trigger reports (here the last-seen time moved back, as a long-idle
    session's is) is caught by the recheck, and the session is ended as the next request
    would end it."""
    app = push_app(LIVE_PUSH_RECHECK_SECONDS=0.5)
    client, agent = signed_in(app, staff_maker(app))
    stream = open_stream(client)
    stream.until("ready")
    row = session_row(app, agent.id)

    from portal.models.types import utcnow

    set_session(app, row.id, last_seen_at=utcnow() - timedelta(minutes=16))
    assert stream.until("ended", timeout=5).data == "idle_timeout"
    ended = session_row(app, agent.id)
    assert ended.ended_at is not None and ended.end_reason == "idle_timeout"


@pg_only
def test_the_stream_closes_at_the_idle_deadline_and_never_counts_as_activity(push_app):
    idle = timedelta(seconds=3)
    app = push_app(
        SESSION_IDLE_TIMEOUT=idle,
        SESSION_TOUCH_INTERVAL=timedelta(0),  # any real activity would move last-seen at once
        LIVE_PUSH_RECHECK_SECONDS=60.0,  # only the deadline itself can close it in time
    )
    client, agent = signed_in(app, staff_maker(app))
    before = session_row(app, agent.id)
    opened = time.monotonic()
    stream = open_stream(client)
    stream.until("ready")
    # Keep-alives flow every second meanwhile: none of them keeps the session alive.
    assert stream.until("ended", timeout=idle.total_seconds() + 3).data == "idle_timeout"
    assert time.monotonic() - opened >= idle.total_seconds() - 1.0
    after = session_row(app, agent.id)
    assert after.last_seen_at == before.last_seen_at, "the stream counted as activity"
    assert after.end_reason == "idle_timeout"
    assert (
        client.get("/agent/api/requests", headers={"Accept": "application/json"}).status_code == 401
    )


@pg_only
def test_a_disabled_account_loses_its_stream(push_app):
    app = push_app(LIVE_PUSH_RECHECK_SECONDS=60.0)
    client, agent = signed_in(app, staff_maker(app))
    stream = open_stream(client)
    stream.until("ready")
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        db.session.execute(
            update(StaffUser).where(StaffUser.id == agent.id).values(is_active=False)
        )
        db.session.commit()
    assert stream.until("ended", timeout=5).data == "account_disabled"


@pg_only
def test_the_recheck_closes_a_stream_whose_account_must_change_its_password(push_app):
    """A change no session-ending path made (a password to change, set straight in the
    database) is caught by the recheck: the stream closes, and the page gate stops the
    console's next request."""
    app = push_app(LIVE_PUSH_RECHECK_SECONDS=0.5)
    client, agent = signed_in(app, staff_maker(app))
    stream = open_stream(client)
    stream.until("ready")
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        db.session.execute(
            update(StaffUser).where(StaffUser.id == agent.id).values(password_must_change=True)
        )
        db.session.commit()
    assert stream.until("resync", timeout=5).data == "changed"
    assert stream.ended()
    # The console's next stream or poll meets the page gate.
    assert client.get("/agent/api/stream", headers={"Accept": "text/event-stream"}).status_code in (
        302,
        303,
        401,
        403,
    )


def test_the_apps_own_workers_offer_no_stream_and_the_console_polls(app, logged_in):
    """Not the push service (or SQLite): one ``unavailable`` event, and the console keeps
    polling; on SQLite the page does not even offer the stream."""
    client, _ = logged_in("agent")
    response = client.get(STREAM, headers=EVENT_SOURCE)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "event: unavailable\ndata: polling\n\n"
    page = client.get("/agent/").get_data(as_text=True)
    assert ('data-stream-url="/agent/api/stream"' in page) is ON_POSTGRES


def test_push_switched_off_leaves_the_console_polling(app_factory, make_staff):
    app = app_factory(LIVE_PUSH_ENABLED=False, LIVE_PUSH_SERVICE=True)
    client, _ = signed_in(app, make_staff)
    assert "data-stream-url" not in client.get("/agent/").get_data(as_text=True)
    body = client.get(STREAM, headers=EVENT_SOURCE).get_data(as_text=True)
    assert body == "event: unavailable\ndata: polling\n\n"
