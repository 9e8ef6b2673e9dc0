"""Pooled database connections are proven alive before use only when they sat idle.

SQLAlchemy's ``pool_pre_ping`` spends a round trip on every checkout, so every request (a
status poll included) paid one more round trip than its work. A connection handed back and
taken again within a second has just worked; one that sat in the pool longer may have lost its
server (a restart, a failover, a proxy that closed it) and is pinged first. A failed ping
invalidates the whole pool, as ``pool_pre_ping`` does: the database went away, so every pooled
connection is suspect, and the checkout gets a fresh connection instead of an error.

A database restart takes longer than ``DATABASE_PING_IDLE_SECONDS`` (a second by default), so
no connection that was in the pool across one escapes the ping
(tests/reliability/test_database_restart.py restarts PostgreSQL under traffic).
"""

from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

_IDLE_SINCE = "postern_idle_since"


def install(engine: Engine, idle_seconds: float) -> None:
    """Ping ``engine``'s connections on checkout when idle for more than ``idle_seconds``."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _remember_checkin(dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None:
            return  # a new connection: just made, nothing to prove
        if time.monotonic() - since <= idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as problem:
            raise exc.InvalidatePoolError() from problem
