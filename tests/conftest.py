"""Shared fixtures: a migrated database per test session, a fresh app and client per test.

The database is SQLite (a file under a temporary directory) unless ``TEST_DATABASE_URL`` names
another, e.g. ``postgresql://127.0.0.1:5432/test``; the schema is built by the Alembic
migrations, exactly as in production, and every table is emptied after each test.
CSRF protection stays on: tests post real forms with the token the page carried.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from flask_migrate import upgrade
from hypothesis import settings
from sqlalchemy import create_engine, text

from config.settings import _normalise_database_url

# CI explores the same examples every run, so a red build is always reproducible; locally,
# property tests keep exploring new inputs each run (and remember failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

#: Screenshots and logs of the run. POSTERN_TEST_ARTIFACTS moves them, so that two runs side by
#: side (say, two checkouts sharing a machine) never truncate each other's logs.
pytest_plugins = ["tests.prodlike.fixtures"]

ARTIFACTS = Path(os.environ.get("POSTERN_TEST_ARTIFACTS") or Path(__file__).parent / "_artifacts")
DEFAULT_PASSWORD = "correct horse battery staple 42"


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _normalise_database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'postern-test.sqlite3'}"


def _reset_schema(url: str) -> None:
    """Start the session from an empty database so migrations run from scratch."""
    if not url.startswith("postgresql"):
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    from portal import create_app

    url = _database_url(tmp_path_factory)
    _reset_schema(url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="heads")
        from portal.extensions import db

        db.engine.dispose()
    return url


def _empty_all_tables(db) -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


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
            _empty_all_tables(db)
            db.engine.dispose()
        for other in built[1:]:
            with other.app_context():
                db.engine.dispose()


@pytest.fixture
def app(app_factory):
    """A fresh app. No app context is left pushed: a request made while one is pushed would
    share ``g`` with the test (and with earlier requests), which no real request ever does.
    Use ``with app.app_context():`` around direct database work."""
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_from(html: str) -> str:
    """The CSRF token a page's form carries (the test then posts it, as a browser would)."""
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def post_form(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """GET ``page`` (default ``url``) for its CSRF token, then POST ``data`` to ``url``."""
    page_response = client.get(page or url)
    token = csrf_from(page_response.get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


@dataclass(frozen=True)
class Staff:
    """What a test needs to know about a staff account it made (detached from any session)."""

    id: int
    username: str
    role: str
    team_id: int | None
    totp_secret: str | None
    mfa_enabled: bool


@pytest.fixture
def make_staff(app):
    """Create a staff account: ``make_staff("agent", team="North", mfa=True)``."""
    from portal.cli import create_staff
    from portal.extensions import db

    counter = {"n": 0}

    def make(role="agent", *, username=None, team=None, mfa=False, password=DEFAULT_PASSWORD):
        counter["n"] += 1
        with app.app_context():
            user = create_staff(username or f"{role}{counter['n']}", password, role, team=team)
            if mfa:
                user.totp_secret = pyotp.random_base32()
                user.mfa_enabled = True
            db.session.commit()
            return Staff(
                user.id, user.username, user.role, user.team_id, user.totp_secret, user.mfa_enabled
            )

    return make


def current_totp(user, *, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(user.totp_secret)
    return totp.at(time.time() + offset_steps * totp.interval)


def login(client, user, password: str = DEFAULT_PASSWORD, *, totp_offset: int = 0):
    """Sign ``user`` in through the real forms (password, then TOTP if enrolled)."""
    response = post_form(client, "/login", {"username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if user.mfa_enabled:
        response = post_form(
            client, "/login/mfa", {"code": current_totp(user, offset_steps=totp_offset)}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def logged_in(client, make_staff):
    """``logged_in("backoffice")`` -> (client, user), signed in with MFA where the role needs it."""
    from portal.security.authz import mfa_required

    def sign_in(role="agent", **kwargs):
        kwargs.setdefault("mfa", mfa_required(role))
        user = make_staff(role, **kwargs)
        login(client, user)
        return client, user

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
SUITE_LOG_NAME = "suite.log"


def suite_log_path() -> Path:
    """Where this test process tees every log record (one file per xdist worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return ARTIFACTS / (f"suite-{worker}.log" if worker else SUITE_LOG_NAME)


def pytest_sessionstart(session):
    """Tee every log record of the run into tests/_artifacts/suite*.log, formatted by the very
    handler production uses (redaction filter + JSON formatter), so the end-of-run check in
    ``pytest_sessionfinish`` sees exactly what production would write."""
    import logging

    from portal.observability.logging import build_handler

    ARTIFACTS.mkdir(exist_ok=True)
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
    server logs) holds an unmasked card number."""
    import logging

    handler, stream = getattr(session.config, "_postern_suite_log", (None, None))
    if handler is not None:
        for name in ("", "postern", "portal", "gunicorn.error", "werkzeug"):
            logging.getLogger(name).removeHandler(handler)
        stream.close()
    from tests.security.test_logs_masked import unmasked_card_numbers_in_logs

    found = unmasked_card_numbers_in_logs()
    if found:
        print("\nUNMASKED CARD NUMBERS IN LOGS:\n" + "\n".join(found[:20]))
        session.exitstatus = 1
