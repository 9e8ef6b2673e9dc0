"""Liveness and readiness probes."""

from __future__ import annotations

import base64
import os
import re
import secrets

import pytest
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from tests.support.database import ON_POSTGRES, dispose_engines
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import post_form


def test_healthz_answers_without_touching_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_answers_200_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "database": "ok"}


@pytest.mark.parametrize(
    "unreachable",
    [
        "sqlite:////nonexistent-directory/for/postern/test.sqlite3",
        "postgresql://127.0.0.1:1/postern",  # nothing listens on port 1
    ],
)
def test_readyz_answers_503_when_the_database_is_unreachable(unreachable):
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": unreachable})
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    body = response.get_data(as_text=True)
    assert "nonexistent" not in body and "127.0.0.1" not in body and "Error" not in body
    # The process itself is still alive.
    assert client.get("/healthz").status_code == 200
    # A page that needs the database says so plainly, without the driver's message.
    page = post_form(client, "/login", {"username": "someone", "password": "a password"})
    assert page.status_code == 503
    assert "temporarily unavailable" in page.get_data(as_text=True)
    assert "nonexistent" not in page.get_data(as_text=True)
    with app.app_context():
        dispose_engines(db)


def test_probes_need_no_session_and_carry_the_security_headers(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path
        assert response.headers["Cache-Control"] == "no-store"
        assert "Content-Security-Policy" in response.headers
        assert response.headers["X-Request-ID"]


# --- production settings: plain HTTP, straight at gunicorn --------------------------------------

PUBLIC_HOST = "pay.example.com"
NONCE = re.compile(r"'nonce-[^']+'")


def production_app(database_uri: str):
    """The app with production settings and every required secret, behind one TLS proxy."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return create_app(
        "production",
        {
            "SECRET_KEY": secrets.token_hex(32),
            "AUDIT_CHAIN_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": database_uri,
            # Production requires a key store on a server of its own; the probes and redirects
            # here never reach it.
            "KEY_STORE_URL": "postgresql://127.0.0.1:2/postern_keys",
            "TRUSTED_HOSTS": [PUBLIC_HOST],
            "PROXY_HOPS": 1,
            "STRIPE_SECRET_KEY": "sk_live_" + secrets.token_urlsafe(32),
            "STRIPE_PUBLISHABLE_KEY": "pk_live_" + secrets.token_urlsafe(32),
            "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
            "PUBLIC_BASE_URL": f"https://{PUBLIC_HOST}",
            # Production refuses memory://; the probes and redirects here never count a hit.
            "RATELIMIT_STORAGE_URI": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
            "LINK_SIGNING_KEYS": [secrets.token_hex(32)],
            "IDENTITY_PEPPER": secrets.token_hex(32),
            "DATA_ENCRYPTION_KEYS": f"k1:{key}",
            "PRIVACY_NOTICE_URL": f"https://{PUBLIC_HOST}/privacy",
            "DELIVERY_SMS_BACKEND": "disabled",
            "DELIVERY_EMAIL_BACKEND": "disabled",
        },
    )


@pytest.fixture
def production(database_url):
    """On PostgreSQL runs, the migrated test database; on SQLite runs (which production refuses)
    a PostgreSQL address where nothing listens, so /readyz answers 503 there instead of 200."""
    app = production_app(database_url if ON_POSTGRES else "postgresql://127.0.0.1:1/postern")
    yield app
    with app.app_context():
        dispose_engines(db)


def test_probes_answer_plain_http_in_production_while_pages_move_to_https(production):
    """Proves: with production settings, a load balancer's plain-HTTP probe of /healthz and
    /readyz gets its answer (no redirect to HTTPS), while every other page still moves to HTTPS
    and the probes served over HTTPS keep HSTS."""
    client = production.test_client()
    base = f"http://{PUBLIC_HOST}"

    alive = client.get("/healthz", base_url=base)
    ready = client.get("/readyz", base_url=base)

    assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}
    if ON_POSTGRES:
        assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    else:
        assert ready.status_code == 503 and ready.get_json()["database"] == "unreachable"
    # The probes' views are shared by every app in the process, and Talisman keeps the first
    # app's options on them: they must still carry this app's own policy.
    page_policy = client.get("/login", base_url=f"https://{PUBLIC_HOST}").headers
    for probe in (alive, ready):
        assert "Location" not in probe.headers and "Strict-Transport-Security" not in probe.headers
        policy = probe.headers["Content-Security-Policy"]
        assert NONCE.sub("", policy) == NONCE.sub("", page_policy["Content-Security-Policy"])
    page = client.get("/login", base_url=base)
    assert page.status_code == 301
    assert page.headers["Location"] == f"https://{PUBLIC_HOST}/login"
    proxied = client.get("/healthz", base_url=base, headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200 and "Strict-Transport-Security" in proxied.headers


def test_a_probe_addressed_to_the_instance_gets_its_answer(production):
    """Proves: a load balancer probing gunicorn by address (Host: 10.0.4.17:8000, not a trusted
    name) gets /healthz and /readyz answered, while any other path with that Host is refused
    with a plain 400 (never a crash into the server's bare 500)."""
    client = production.test_client()
    base = "http://10.0.4.17:8000"

    assert client.get("/healthz", base_url=base).status_code == 200
    assert client.get("/readyz", base_url=base).status_code == (200 if ON_POSTGRES else 503)
    forwarded = client.get("/healthz", base_url=base, headers={"X-Forwarded-Host": "evil.test"})
    assert forwarded.status_code == 200

    for path in ("/login", "/healthz/", "/backoffice/"):
        refused = client.get(path, base_url=base)
        assert refused.status_code == 400, path
        assert refused.mimetype == "text/html" and "10.0.4.17" not in refused.get_data(as_text=True)


# --- a database that answers but cannot be written ---------------------------------------------


def read_only_uri(database_url: str) -> tuple[str, dict]:
    """The test database, opened so that it can be read but not written: SQLite's read-only
    mode, or PostgreSQL sessions that are read-only as on a hot standby (set per connection,
    so no other test's connections are touched)."""
    if ON_POSTGRES:
        options = {"connect_args": {"options": "-c default_transaction_read_only=on"}}
        return database_url, {"SQLALCHEMY_ENGINE_OPTIONS": options}
    path = database_url.removeprefix("sqlite:///")
    return f"sqlite:///file:{path}?mode=ro&uri=true", {}


def test_readyz_answers_503_while_the_database_cannot_be_written(database_url, make_staff):
    """Proves: a database that answers reads but refuses writes (a read-only SQLite file, a
    read-only PostgreSQL) makes /readyz answer 503 "read_only", and signing in there shows the
    plain 503 page, not "something went wrong"."""
    user = make_staff("agent")
    uri, more = read_only_uri(database_url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": uri, **more})
    client = app.test_client()
    try:
        ready = client.get("/readyz")
        page = post_form(
            client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
        )
    finally:
        with app.app_context():
            dispose_engines(db)

    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "database": "read_only"}
    text = page.get_data(as_text=True)
    assert page.status_code == 503
    assert "The service is temporarily unavailable" in text and "try again" in text
    assert "Something went wrong" not in text and "readonly" not in text.lower()


def test_the_readiness_check_writes_nothing_and_leaves_no_transaction_open(app, logged_in):
    """Proves: the check's write changes no row and its transaction is over when it returns, so
    a probe every few seconds holds no lock and keeps no connection in a transaction."""
    from portal.health import database_state
    from portal.models.staff import StaffSession

    logged_in("agent")
    with app.test_request_context("/readyz"):
        before = db.session.execute(select(StaffSession.id, StaffSession.end_reason)).all()
        db.session.rollback()

        assert database_state() == "ok"

        assert not db.session().in_transaction()
        assert db.session.execute(select(StaffSession.id, StaffSession.end_reason)).all() == before
        db.session.rollback()


def test_probes_are_never_rate_limited(app_factory):
    """Proves: under an app-wide rate limit that refuses a page, the probes still answer, so a
    load balancer probing every few seconds never takes a healthy instance out of service."""
    from portal.extensions import limiter

    # The limiter is one object for every app in the process and keeps the first app-wide
    # limit it is given: this test sets one, then takes it away again.
    assert limiter.limit_manager.application_limits == []
    try:
        client = app_factory(RATELIMIT_APPLICATION="2 per minute").test_client()
        assert [client.get("/login").status_code for _ in range(3)] == [200, 200, 429]
        assert {client.get(probe).status_code for probe in ["/healthz", "/readyz"] * 5} == {200}
    finally:
        limiter.limit_manager.set_application_limits([])
