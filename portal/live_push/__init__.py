"""The agent's live panel, pushed: Server-Sent Events fed by PostgreSQL LISTEN/NOTIFY.

Triggers (migration 0024) notify ``postern_panel`` on every change a panel shows, whoever
wrote it (app, workers, commands), and ``postern_staff`` when a session ends or an account
changes. Each push-service process holds one listening connection (``hub``) and fans the
notifications out to its open streams (``stream``), which read the changed panel through the
same authorisation as the poll and close when the session ends (PCI DSS 8.2.8).

The poll (``/agent/api/requests``, ETag + 304) stays the fallback: on SQLite, with
``LIVE_PUSH_ENABLED`` off, or whenever a stream fails, the console polls.
"""

from __future__ import annotations

import threading

from portal.live_push.hub import Hub


def push_available(config) -> bool:
    """Whether the console should open a stream at all: push on, and PostgreSQL underneath
    (SQLite has no LISTEN)."""
    return bool(config.get("LIVE_PUSH_ENABLED")) and str(
        config.get("SQLALCHEMY_DATABASE_URI", "")
    ).startswith("postgresql")


_HUB_KEY = "postern.live_push.hub"
_HUB_LOCK = threading.Lock()


def listen_url(config) -> str | None:
    """The libpq URL the push service LISTENs on; None when there is none it can use
    (PgBouncer in transaction mode cannot carry LISTEN: set LIVE_PUSH_LISTEN_URL)."""
    url = config.get("LIVE_PUSH_LISTEN_URL") or ""
    if not url:
        if config.get("DATABASE_POOLER") == "pgbouncer-transaction":
            return None
        url = str(config["SQLALCHEMY_DATABASE_URI"])
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix) :]
    return url if url.startswith("postgresql://") else None


def hub_for(app) -> Hub | None:
    """This process's hub for ``app`` (made on first use), or None when push cannot run here
    (not the push service, push off, SQLite, no LISTEN-capable URL)."""
    config = app.config
    if not (config.get("LIVE_PUSH_SERVICE") and push_available(config)):
        return None
    with _HUB_LOCK:
        hub = app.extensions.get(_HUB_KEY)
        if hub is None:
            url = listen_url(config)
            if url is None:
                return None
            hub = Hub(url, int(config.get("DATABASE_CONNECT_TIMEOUT_SECONDS", 5)))
            app.extensions[_HUB_KEY] = hub
        return hub
