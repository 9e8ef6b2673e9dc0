"""Error pages: the right status, plain words, and never the text of an exception."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import abort
from sqlalchemy.exc import OperationalError

from portal.errors import UNCONFIRMED_TITLE
from tests.support.web import csrf_from, login

SECRET = "sk_live_TOPSECRET123"
CARD = "4111111111111111"
LEAK = f"leak {SECRET} card {CARD} /srv/postern/portal/secret_module.py"


@pytest.fixture
def app(app_factory):
    """The real app plus test-only routes that fail in every way a view can."""
    app = app_factory()

    @app.get("/test-only/crash")
    def crash():
        raise RuntimeError(LEAK)

    @app.get("/test-only/key-error")
    def key_error():
        return {"x": 1}[LEAK]

    @app.get("/test-only/abort/<int:status>")
    def aborts(status):
        abort(status, description=LEAK)

    @app.get("/test-only/database-down")
    def database_down():
        raise OperationalError("SELECT secret FROM cards", {"card": CARD}, Exception(LEAK))

    @app.post("/test-only/echo")
    def echo():
        return "ok"

    @app.post("/test-only/save/<outcome>")
    def save(outcome):
        if outcome == "crash":
            raise RuntimeError(LEAK)
        raise OperationalError("UPDATE cards", {"card": CARD}, Exception(LEAK))

    return app


@pytest.fixture
def log_output(app):
    """Everything Postern logs during the test, as the JSON lines the handler writes."""
    handler = next(h for h in logging.getLogger("postern").handlers if getattr(h, "_postern", 0))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def assert_nothing_leaks(response) -> None:
    body = response.get_data(as_text=True)
    for secret in (SECRET, CARD, "TOPSECRET", "secret_module", "Traceback", "RuntimeError"):
        assert secret not in body, secret
    assert "4111 1111" not in body


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/test-only/crash", 500, "Something went wrong on our side"),
        ("/test-only/key-error", 500, "Something went wrong on our side"),
        ("/test-only/abort/400", 400, "We could not read what was sent"),
        ("/test-only/abort/401", 401, "Please sign in"),
        ("/test-only/abort/403", 403, "You do not have access to this page"),
        ("/test-only/abort/404", 404, "Page not found"),
        ("/test-only/abort/405", 405, "That action is not allowed here"),
        ("/test-only/abort/410", 410, "This is no longer available"),
        ("/test-only/abort/413", 413, "That was too large"),
        ("/test-only/abort/429", 429, "Too many attempts"),
        ("/test-only/abort/500", 500, "Something went wrong on our side"),
        ("/test-only/abort/503", 503, "The service is temporarily unavailable"),
        ("/test-only/database-down", 503, "The service is temporarily unavailable"),
    ],
)
def test_error_pages_never_echo_the_exception(app, path, status, title):
    """Proves: each error status renders our own page (HTML or JSON by what was asked) and never the
    exception's text, a secret or a card number."""
    client = app.test_client()
    response = client.get(path)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert title in response.get_data(as_text=True)
    assert f"Error {status}" in response.get_data(as_text=True)
    assert_nothing_leaks(response)

    as_json = client.get(path, headers={"Content-Type": "application/json"})
    assert as_json.status_code == status
    assert as_json.is_json and set(as_json.get_json()) == {"error", "message"}
    assert_nothing_leaks(as_json)


def test_real_404_405_413_and_csrf_pages(app):
    """Proves: the real framework errors (unknown page, wrong method, body too large, missing token)
    use the same plain pages and leak nothing."""
    client = app.test_client()
    not_found = client.get(f"/no/such/{SECRET}")
    assert not_found.status_code == 404 and "Page not found" in not_found.get_data(as_text=True)
    assert_nothing_leaks(not_found)

    wrong_method = client.delete("/login")
    assert wrong_method.status_code == 405

    limit = app.config["MAX_CONTENT_LENGTH"]
    too_big = client.post("/test-only/echo", data={"note": CARD + "x" * limit})
    assert too_big.status_code == 413
    assert "That was too large" in too_big.get_data(as_text=True)
    assert_nothing_leaks(too_big)
    raw_too_big = client.post(
        "/login", data=b"x" * (limit + 1), content_type="application/octet-stream"
    )
    assert raw_too_big.status_code in (400, 413)

    csrf = client.post("/login", data={"username": SECRET, "password": CARD})
    assert csrf.status_code == 400
    assert "This form has expired" in csrf.get_data(as_text=True)
    assert_nothing_leaks(csrf)


def test_error_pages_give_signed_in_staff_their_navigation_back(app, make_staff):
    """Proves: a signed-in agent's error page keeps the navigation (a way back to the console),
    drawn from the copy of the staff member taken at sign-in, never from the request that failed
    (tests/security/test_error_pages_database_gone.py shows it sends no SQL)."""
    client = app.test_client()
    login(client, make_staff("agent"))
    page = client.get("/test-only/crash").get_data(as_text=True)
    assert "Sign out" in page and 'href="/agent/"' in page


def test_the_crash_is_logged_with_its_traceback_but_redacted(app, log_output):
    """Proves: a crash is logged once as ERROR with its request id and traceback, card numbers
    masked and the secret absent, and the access line records the 500."""
    response = app.test_client().get("/test-only/crash", headers={"X-Request-ID": "trace-me-123"})
    assert response.status_code == 500
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    (error,) = [line for line in lines if line["logger"] == "postern.errors"]
    assert error["level"] == "ERROR" and error["message"] == "unhandled error"
    assert error["request_id"] == "trace-me-123"
    assert "RuntimeError" in error["exc_info"] and "Traceback" in error["exc_info"]
    text = log_output.getvalue()
    assert SECRET not in text and CARD not in text
    assert "[REDACTED-PAN]" in error["exc_info"]
    (access,) = [line for line in lines if line["logger"] == "postern.access"]
    assert access["status"] == 500 and access["request_id"] == "trace-me-123"


def test_a_database_outage_is_logged_without_the_statement_or_parameters(app, log_output):
    """Proves: a database error is logged as the outage it is, without the SQL statement or its
    parameters (which can carry data)."""
    app.test_client().get("/test-only/database-down")
    text = log_output.getvalue()
    assert "database unavailable" in text
    assert CARD not in text and "SELECT secret" not in text and SECRET not in text


@pytest.mark.parametrize(
    ("outcome", "status", "signed_out_title"),
    [
        ("crash", 500, "Something went wrong on our side"),
        ("database-down", 503, "The service is temporarily unavailable"),
    ],
)
def test_a_sent_form_that_fails_never_claims_nothing_was_lost(
    app, make_staff, outcome, status, signed_out_title
):
    """Proves: when a sent form fails (500 or 503), nobody is told "nothing was lost": a visitor
    or customer is asked to try again in a minute, and staff are told it may have gone through
    and to check before trying again (a new form would be a second action)."""
    visitor = app.test_client()
    token = csrf_from(visitor.get("/login").get_data(as_text=True))

    signed_out = visitor.post(f"/test-only/save/{outcome}", data={"csrf_token": token})

    text = signed_out.get_data(as_text=True)
    assert signed_out.status_code == status
    assert signed_out_title in text and "wait a minute, then try again" in text
    assert "Nothing was lost" not in text and UNCONFIRMED_TITLE not in text
    assert_nothing_leaks(signed_out)

    staff = app.test_client()
    login(staff, make_staff("backoffice", mfa=True))
    token = csrf_from(staff.get("/account").get_data(as_text=True))

    signed_in = staff.post(f"/test-only/save/{outcome}", data={"csrf_token": token})

    text = signed_in.get_data(as_text=True)
    assert signed_in.status_code == status
    assert UNCONFIRMED_TITLE in text and "may have gone through" in text
    assert "check whether it was saved before you try again" in text
    assert "Nothing was lost" not in text
    assert_nothing_leaks(signed_in)


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_json_or_a_page_is_decided_once_for_errors_and_for_sign_in(app):
    """Proves: error answers and the "sign in again" answer agree on when to speak JSON: in the
    parts of the site declared to speak it (even at a path that matches no route there), or
    when the client sent JSON or prefers it; a browser always gets pages."""
    client = app.test_client()

    for path in ("/agent/api/no-such-thing", "/webhooks/no-such-thing"):
        response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 404 and response.is_json, path
    asks_json = client.get("/test-only/abort/429", headers={"Accept": "application/json"})
    assert asks_json.status_code == 429 and asks_json.get_json()["error"] == 429
    sends_json = client.get("/agent/", headers={"Content-Type": "application/json"})
    assert sends_json.status_code == 401 and sends_json.get_json()["error"] == "not_authenticated"

    page = client.get("/test-only/abort/429", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 429 and page.mimetype == "text/html"
    sign_in = client.get("/agent/", headers={"Accept": BROWSER_ACCEPT})
    assert sign_in.status_code == 302 and "/login" in sign_in.headers["Location"]
