"""The status poll's fast path (portal.agent.fast_status), on PostgreSQL: a 304 in one
statement with no panel built, the same ETag from both paths, and the full path for anything
unusual, so that answers and sessions fare exactly as before.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.support.capture import create_direct, expire, load, path_of
from tests.support.database import needs_postgres

pytestmark = needs_postgres("the panel's version is computed by PostgreSQL")

POLL = {"X-Postern-Background": "poll", "Accept": "application/json"}


@contextmanager
def statements(app):
    """The SQL statements sent while the block runs (``list`` of their text)."""
    from portal.extensions import db

    sent: list[str] = []

    def count(conn, cursor, statement, *args):
        sent.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def polled(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    return client, agent, public_id, url


def status_path(public_id: str) -> str:
    return f"/agent/api/requests/{public_id}/status"


def test_an_unchanged_panel_costs_one_statement_and_no_panel(app, polled, monkeypatch):
    client, _, public_id, _ = polled
    first = client.get(status_path(public_id), headers=POLL)
    assert first.status_code == 200
    etag = first.headers["ETag"]

    from portal.live_status import panel

    built = []
    monkeypatch.setattr(panel, "panel_data", lambda *a, **k: built.append(a) or {})
    with statements(app) as sent:
        again = client.get(status_path(public_id), headers={**POLL, "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert len(sent) == 1, sent
    assert built == []


def test_both_paths_give_one_etag_and_one_body(app, polled):
    """The full path (a poll that counts as activity once the touch interval passed) and the
    fast path answer the same request with the same ETag and body."""
    from portal.extensions import db
    from portal.models.staff import StaffSession
    from portal.models.types import utcnow

    client, agent, public_id, _ = polled
    with app.app_context():
        row = db.session.query(StaffSession).filter_by(user_id=agent.id).one()
        row.last_seen_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    with statements(app) as full_sent:
        full = client.get(status_path(public_id), headers={"Accept": "application/json"})
    assert any("UPDATE staff_sessions" in s for s in full_sent), "not the full path"
    with statements(app) as fast_sent:
        fast = client.get(status_path(public_id), headers=POLL)
    assert not any("UPDATE" in s for s in fast_sent)
    assert fast.status_code == full.status_code == 200
    assert fast.headers["ETag"] == full.headers["ETag"]
    assert fast.get_json() == full.get_json()
    assert fast.headers.get("Cache-Control") == full.headers.get("Cache-Control")
    assert fast.headers["Content-Type"] == full.headers["Content-Type"]
    not_modified = client.get(
        status_path(public_id), headers={**POLL, "If-None-Match": fast.headers["ETag"]}
    )
    assert not_modified.status_code == 304


def test_a_customer_action_changes_the_etag_and_the_panel(app, polled):
    client, _, public_id, url = polled
    etag = client.get(status_path(public_id), headers=POLL).headers["ETag"]
    app.test_client().get(path_of(url))  # the customer opens the link
    changed = client.get(status_path(public_id), headers={**POLL, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["status"] == "opened"


def test_a_lapsed_link_takes_the_full_path_which_writes_it_expired(app, polled):
    client, _, public_id, _ = polled
    etag = client.get(status_path(public_id), headers=POLL).headers["ETag"]
    expire(app, public_id)
    answer = client.get(status_path(public_id), headers={**POLL, "If-None-Match": etag})
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "expired"
    assert load(app, public_id).status == "expired"


def test_another_agents_request_is_still_not_found(app, polled, make_staff):
    client, _, _, _ = polled
    other = make_staff("agent")
    theirs, _ = create_direct(app, other.id)
    assert client.get(status_path(theirs), headers=POLL).status_code == 404


def test_an_ended_session_is_still_refused_and_told_why(app, polled):
    from portal.extensions import db
    from portal.security.sessions import end_user_sessions

    client, agent, public_id, _ = polled
    with app.app_context():
        end_user_sessions(agent.id, "logout")
        db.session.commit()
    answer = client.get(status_path(public_id), headers=POLL)
    assert answer.status_code == 401


def test_an_idle_session_is_ended_by_the_poll_as_before(app, polled):
    from portal.extensions import db
    from portal.models.staff import StaffSession
    from portal.models.types import utcnow

    client, agent, public_id, _ = polled
    with app.app_context():
        row = db.session.query(StaffSession).filter_by(user_id=agent.id).one()
        row.last_seen_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
    assert client.get(status_path(public_id), headers=POLL).status_code == 401
    with app.app_context():
        row = db.session.query(StaffSession).filter_by(user_id=agent.id).one()
        assert row.end_reason == "idle_timeout"
