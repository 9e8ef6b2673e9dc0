"""Shared fixtures: a migrated database per test session, a fresh app and client per test.

The database is SQLite (a file under a temporary directory) unless ``TEST_DATABASE_URL`` names
another, e.g. ``postgresql://127.0.0.1:5432/test``; the schema is built by the Alembic
migrations, exactly as in production, and every table is emptied after each test.
CSRF protection stays on: tests post real forms with the token the page carried.
"""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade
from hypothesis import settings

from tests.support.artifacts import (
    ARTIFACTS,
    dump_path,
    keep_rows_for_scan,
    pg_dump,
    suite_log_path,
    unmasked_card_numbers_in_logs,
)
from tests.support.database import database_url_for, dispose_engines, empty_all_tables, reset_schema
from tests.support.staff import create_staff_account
from tests.support.web import signed_in

# CI explores the same examples every run, so a red build is always reproducible; locally,
# property tests keep exploring new inputs each run (and remember failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

pytest_plugins = ["tests.prodlike.fixtures"]


#: The database this test process used, if any (an xdist controller runs no test and uses none).
_SESSION_DATABASE: dict[str, str] = {}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    from portal import create_app

    url = database_url_for(tmp_path_factory)
    _SESSION_DATABASE["url"] = url
    reset_schema(url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="heads")
        from portal.extensions import db

        dispose_engines(db)
    return url


@pytest.fixture
def app_factory(database_url):
    """Build apps on the test database; every table is emptied after the test."""
    from portal import create_app

    built = []

    def build(**overrides):
        settings = {"SQLALCHEMY_DATABASE_URI": database_url, **overrides}
        app = create_app("testing", settings)
        built.append(app)
        return app

    yield build
    if built:
        from portal.extensions import db

        with built[0].app_context():
            db.session.remove()
            keep_rows_for_scan(db)  # for the end-of-run dump scan (PostgreSQL)
            empty_all_tables(db)
            dispose_engines(db)
        for other in built[1:]:
            with other.app_context():
                dispose_engines(db)


@pytest.fixture
def app(app_factory):
    """A fresh app. No app context is left pushed: a request made while one is pushed would
    share ``g`` with the test (and with earlier requests), which no real request ever does.
    Use ``with app.app_context():`` around direct database work."""
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_staff(app):
    """Create a staff account: ``make_staff("agent", team="North", mfa=True)``; usernames
    default to the role and a number (``agent1``, ``agent2``, ...)."""
    counter = {"n": 0}

    def make(role="agent", *, username=None, **options):
        counter["n"] += 1
        return create_staff_account(app, role, username or f"{role}{counter['n']}", **options)

    return make


@pytest.fixture
def logged_in(app, client, make_staff):
    """``logged_in("backoffice")`` -> (client, user), signed in with MFA where the role needs it."""

    def sign_in(role="agent", **kwargs):
        return signed_in(app, make_staff, role, client=client, **kwargs)

    return sign_in


@pytest.fixture(scope="session")
def _stripe_sandbox_server():
    """One offline Stripe sandbox (API + Stripe.js) for the whole session, on a free port."""
    from stripe_sandbox.runner import start_sandbox

    server = start_sandbox(
        fault_timeout_seconds=3.0,
        webhook_retry_base_seconds=0.05,
        webhook_retry_max_seconds=0.5,
        webhook_max_attempts=5,
        webhook_timeout_seconds=5.0,
    )
    yield server
    server.stop()


@pytest.fixture
def stripe_sandbox(_stripe_sandbox_server):
    """The session's Stripe sandbox, emptied for this test: no objects, faults or webhook
    endpoint. Point an app at it with ``STRIPE_API_BASE=stripe_sandbox.url`` (and friends)."""
    _stripe_sandbox_server.set_webhook(None)
    _stripe_sandbox_server.reset()
    yield _stripe_sandbox_server
    _stripe_sandbox_server.set_webhook(None)
    _stripe_sandbox_server.reset()


# --- the whole suite's log, through the production handler (tests/security/test_logs_masked.py)


def pytest_sessionstart(session):
    """Tee every log record of the run into tests/_artifacts/suite*.log, formatted by the very
    handler production uses (redaction filter + JSON formatter), so the end-of-run check in
    ``pytest_sessionfinish`` sees exactly what production would write."""
    import logging

    from portal.observability.logging import build_handler

    ARTIFACTS.mkdir(exist_ok=True)
    dump_path().unlink(missing_ok=True)  # a dump is scanned only by the run that made it
    stream = suite_log_path().open("w", encoding="utf-8")
    handler = build_handler(True, stream=stream)
    handler.setLevel(logging.DEBUG)
    # The app's loggers do not propagate (portal.observability.logging), so attach to them
    # too; init_logging replaces only its own handler, so this one survives every create_app.
    for name in ("", "postern", "portal", "gunicorn.error", "werkzeug"):
        logging.getLogger(name).addHandler(handler)
    session.config._postern_suite_log = (handler, stream)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any log line of it (this process's tee, and the reliability tests'
    server logs) or, on PostgreSQL, the dump of its database holds a card number."""
    import logging

    handler, stream = getattr(session.config, "_postern_suite_log", (None, None))
    if handler is not None:
        for name in ("", "postern", "portal", "gunicorn.error", "werkzeug"):
            logging.getLogger(name).removeHandler(handler)
        stream.close()
    used = _SESSION_DATABASE.get("url", "")
    if used.startswith("postgres"):
        # Every row any test stored (kept by ``keep_rows_for_scan``), dumped and scanned too.
        dump_path().parent.mkdir(parents=True, exist_ok=True)
        dump_path().write_text(pg_dump(used), encoding="utf-8")
    found = unmasked_card_numbers_in_logs()
    if found:
        print("\nUNMASKED CARD NUMBERS IN LOGS OR THE DATABASE DUMP:\n" + "\n".join(found[:20]))
        session.exitstatus = 1
