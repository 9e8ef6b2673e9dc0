"""portal.pool_health: a pooled connection is pinged before use only after sitting idle, and a
connection the server dropped meanwhile is replaced, not handed to a request (PostgreSQL)."""

from __future__ import annotations

import time

from sqlalchemy import text

from tests.support.database import needs_postgres

pytestmark = needs_postgres("the pool's connections to a real server")


def count_pings(app, monkeypatch) -> list:
    """The pings ``app``'s engine sends from now on (the real ping, counted)."""
    from portal.extensions import db

    with app.app_context():
        dialect = db.engine.dialect
    counted = []
    real = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: counted.append(1) or real(conn))
    return counted


def _backend_pid(app) -> int:
    from portal.extensions import db

    with app.app_context():
        return db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_reused_at_once_is_not_pinged(app_factory, monkeypatch):
    app = app_factory(DATABASE_PING_IDLE_SECONDS=60.0)
    pings = count_pings(app, monkeypatch)
    first = _backend_pid(app)
    assert _backend_pid(app) == first  # the same pooled connection
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged(app_factory, monkeypatch):
    app = app_factory(DATABASE_PING_IDLE_SECONDS=0.2)
    pings = count_pings(app, monkeypatch)
    first = _backend_pid(app)
    time.sleep(0.3)  # the idle time itself is what is under test
    assert _backend_pid(app) == first
    assert pings == [1]


def test_a_connection_the_server_dropped_is_replaced_not_used(app_factory, monkeypatch):
    app = app_factory(DATABASE_PING_IDLE_SECONDS=0.2)
    pings = count_pings(app, monkeypatch)
    dropped = _backend_pid(app)
    other = app_factory()
    from portal.extensions import db

    with other.app_context():
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        db.session.commit()
    time.sleep(0.3)
    assert _backend_pid(app) != dropped  # no error: a fresh connection answered
    assert pings
