"""Fixtures for the reliability tests: real gunicorn processes on the test PostgreSQL."""

from __future__ import annotations

import pytest

from tests import postgres_only
from tests.reliability.support import gunicorn_servers

#: For tests that need several app processes writing at once: SQLite serialises writers.
needs_postgres = postgres_only.needs_postgres(
    "SQLite serialises writers, so it cannot show what happens between app processes"
)


@pytest.fixture
def two_servers(database_url):
    """Two gunicorn masters (two gthread workers each) on the test database."""
    with gunicorn_servers(database_url, 2, "two-servers") as servers:
        yield [server.base for server in servers]


@pytest.fixture(scope="session", autouse=True)
def _fresh_server_logs():
    """Start each run with no server logs from earlier runs (the end-of-run card-number scan
    reads them)."""
    from tests.reliability.support import LOG_DIR

    if LOG_DIR.exists():
        for old in LOG_DIR.glob("*.log"):
            old.unlink()
    yield
