"""Fixtures for the reliability tests: real gunicorn processes on the test PostgreSQL, and the
production-like stack (tests/prodlike/stack.py) for the fault tests."""

from __future__ import annotations

import os

import pytest

from tests.reliability.support import gunicorn_servers, start_faults_table


@pytest.fixture
def two_servers(database_url):
    """Two gunicorn masters (two gthread workers each) on the test database."""
    with gunicorn_servers(database_url, 2, "two-servers") as servers:
        yield [server.base for server in servers]


@pytest.fixture(scope="module")
def fault_stack(request):
    """The production-like stack for one test module (started once, in some 5-10 s), on a
    database of its own on the PostgreSQL server, with the rate limits lifted
    (LIFTED_RATE_LIMITS: the one setting that differs from production)."""
    from tests.reliability.stack_support import start_fault_stack

    stack = start_fault_stack("faults-" + request.module.__name__.rsplit(".", 1)[-1][5:])
    yield stack
    stack.stop()


@pytest.fixture
def stack(fault_stack):
    """The module's stack for one test: no Stripe fault armed before or after it, every
    service running, no rate-limit count left from the test before."""
    fault_stack.sandbox.clear_faults()
    fault_stack.clear_rate_limits()
    for name, service in fault_stack.services.items():
        assert service.alive(), f"{name} is not running:\n{service.tail()}"
    yield fault_stack
    fault_stack.sandbox.clear_faults()


@pytest.fixture(scope="session", autouse=True)
def _fresh_server_logs():
    """Start each run with no server logs from earlier runs (the end-of-run card-number scan
    reads them), and with an empty faults table."""
    from tests.reliability.support import LOG_DIR

    if LOG_DIR.exists():
        for old in LOG_DIR.glob("*.log"):
            old.unlink()
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # workers of one run share the table
        start_faults_table()
    yield
