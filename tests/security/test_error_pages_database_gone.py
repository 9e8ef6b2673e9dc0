"""Error pages when the database has gone: drawn from memory alone, never a bare 500, and
honest that an action sent just before may have gone through."""

from __future__ import annotations

import pytest
from flask import abort, current_app
from sqlalchemy import event, text

from portal.errors import UNCONFIRMED_TITLE
from portal.extensions import db
from portal.payments.gateway import StripeGateway
from tests.support.backoffice_write import (
    paid_request,
    reauth,
    refund_calls,
    refund_form,
    refund_url,
    refunds_in_db,
)
from tests.support.capture import create_via_console
from tests.support.payments import sandbox_settings
from tests.support.web import csrf_from, login

ROLES = ["agent", "supervisor", "backoffice", "admin", "auditor"]
STATUSES = {
    403: "You do not have access to this page",
    404: "Page not found",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "The service is temporarily unavailable",
}
REFUND = {"scope": "full", "amount": "", "reason_code": "requested_by_customer", "note": "Asked"}


class Database:
    """The test's hold on an app's database: records every SQL statement sent while the app's
    error handlers run, and can go away, after which every statement fails as it would with
    the server gone."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.gone = False
        #: The database goes at the first statement starting with this ("INSERT": mid-save).
        self.gone_at: str | None = None
        self.handling_error = False
        self.while_handling_errors: list[str] = []
        event.listen(self.engine, "before_cursor_execute", self._statement)
        for name in ("handle_user_exception", "handle_exception"):
            setattr(app, name, self._counting(getattr(app, name)))

    def _statement(self, connection, cursor, statement, parameters, context, executemany):
        if self.handling_error:
            self.while_handling_errors.append(statement)
        if self.gone_at and statement.lstrip().upper().startswith(self.gone_at):
            self.gone = True
        if self.gone:
            # Raised as the driver's own error, so SQLAlchemy wraps it as it would a real one.
            raise self.engine.dialect.loaded_dbapi.OperationalError("the server closed the line")

    def _counting(self, handler):
        def handle(error):
            self.handling_error = True
            try:
                return handler(error)
            finally:
                self.handling_error = False

        return handle

    def go_away(self, *, at: str | None = None) -> None:
        """Go now, or at the first statement that starts with ``at``."""
        if at:
            self.gone_at = at
        else:
            self.gone = True

    def come_back(self) -> None:
        self.gone, self.gone_at = False, None

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)


@pytest.fixture
def database(app):
    held = Database(app)
    yield held
    held.close()


def _fail(status: int):
    """A view that fails with ``status`` after the database has gone, its rows expired as any
    commit or rollback leaves them (the signed-in staff row would reload on its next use)."""
    db.session.expire_all()
    current_app.extensions["test_database"].go_away()
    if status == 503:
        db.session.execute(text("SELECT 1"))  # the database is gone: OperationalError
    if status == 500:
        raise RuntimeError("a bug")
    abort(status)


@pytest.fixture
def failing_app(app, database):
    """Test-only routes that fail with a status, one where each audience's pages live: the
    back office's and the console's blueprints run their own gates and template helpers."""
    app.extensions["test_database"] = database
    for prefix, endpoint in (
        ("", "test_only_fail"),
        ("/agent", "agent.test_only_fail"),
        ("/backoffice", "backoffice.test_only_fail"),
    ):
        app.add_url_rule(f"{prefix}/test-only/fail/<int:status>", endpoint, _fail)
    return app


@pytest.mark.parametrize("status", sorted(STATUSES))
@pytest.mark.parametrize("role", [None, *ROLES])
def test_error_pages_send_no_sql_for_any_role(failing_app, database, logged_in, role, status):
    """Proves: 403, 404, 429, 500 and 503 pages render without a single SQL statement for the
    signed-out visitor and every staff role (with their navigation, a way back), on the
    blueprint that role works in, even though
    the signed-in staff row has expired and the database has gone (a page that touched it would
    fail into the server's bare 500)."""
    if role is None:
        client, prefix = failing_app.test_client(), ""
    else:
        client, _ = logged_in(role)
        prefix = "/agent" if role == "agent" else "/backoffice"

    response = client.get(f"{prefix}/test-only/fail/{status}")

    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert STATUSES[status] in page and f"Error {status}" in page
    # Staff keep their navigation, drawn from the copy taken at sign-in: a way back from here.
    assert ("Sign out" in page) == (role is not None)
    assert database.while_handling_errors == []


def test_the_console_api_still_answers_json_with_the_database_gone(failing_app, logged_in):
    """Proves: the console's JSON routes get JSON errors, not an HTML page, when the database
    goes away mid-request."""
    client, _ = logged_in("agent")
    failing_app.extensions["test_database"].go_away()

    response = client.get("/agent/api/requests")

    assert response.status_code == 503
    assert response.get_json() == {
        "error": 503,
        "message": "The service is temporarily unavailable",
    }


def test_a_form_sent_as_the_database_goes_says_it_may_have_gone_through(
    failing_app, database, logged_in
):
    """Proves: an agent whose new request meets a database that stops answering while it is
    being saved is told it may have gone through and where to look (their recent requests),
    never "nothing was lost"; the page is drawn without SQL."""
    client, _ = logged_in("agent")
    database.go_away(at="INSERT")

    response, _ = create_via_console(client)

    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert UNCONFIRMED_TITLE in page and "may have gone through" in page
    assert "recent requests" in page and "Nothing was lost" not in page
    assert database.while_handling_errors == []


def test_a_customer_form_sent_as_the_database_goes_gets_plain_words(failing_app, database):
    """Proves: a signed-out visitor's form (sign-in here) meeting a dead database gets the plain
    503 words, which do not claim that nothing was lost."""
    client = failing_app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    database.go_away()

    response = client.post("/login", data={"csrf_token": token, "username": "x", "password": "y"})

    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The service is temporarily unavailable" in page and "try again" in page
    assert "Nothing was lost" not in page and UNCONFIRMED_TITLE not in page


@pytest.fixture
def bo_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


def test_a_refund_stripe_made_just_before_the_database_went_is_not_a_bare_500(
    bo_app, stripe_sandbox, make_staff, monkeypatch
):
    """Proves: when the database goes away right after Stripe made the refund, the officer sees
    a 503 saying it may have gone through and where to check (not the server's bare "Internal
    Server Error"), the page is drawn without SQL, and once the database is back the refund row
    is there to check and Stripe was asked exactly once."""
    agent = make_staff("agent")
    officer = make_staff("backoffice", mfa=True)
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    client = bo_app.test_client()
    login(client, officer)
    assert reauth(client, officer).status_code == 303
    form = refund_form(client, public_id)
    database = Database(bo_app)
    create_refund = StripeGateway.create_refund

    def refund_then_lose_the_database(gateway, **kwargs):
        made = create_refund(gateway, **kwargs)
        database.go_away()
        return made

    monkeypatch.setattr(StripeGateway, "create_refund", refund_then_lose_the_database)
    try:
        response = client.post(refund_url(public_id), data={**REFUND, **form})
    finally:
        database.come_back()
        database.close()

    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert UNCONFIRMED_TITLE in page and "may have gone through" in page
    assert "Refunds page" in page and "refunded twice" in page
    assert "Nothing was lost" not in page
    assert database.while_handling_errors == []
    assert len(refund_calls(stripe_sandbox)) == 1
    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "requested"  # Stripe has it; the retry button or reconcile links it


def test_a_template_that_fails_still_gives_our_words_and_status(app, monkeypatch):
    """Proves: if drawing the error page itself fails, a fixed page with our own words and the
    right status answers, never the server's bare 500."""
    import portal.errors

    def broken(*args, **kwargs):
        raise RuntimeError("template broke")

    monkeypatch.setattr(portal.errors, "render_template", broken)

    response = app.test_client().get("/no-such-page")

    page = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "<h1>Page not found</h1>" in page and "Error 404" in page
    assert "template broke" not in page


def test_a_failed_read_of_a_links_language_leaves_the_requests_next_reads_working(app, logged_in):
    """Proves: when the read of a link's language for its "page not found" fails, the session
    is rolled back, so the agent's own session (read next, from the staff cookie) still loads
    and the page is our 404 in English. On PostgreSQL a failed statement refuses every later
    one in its transaction: without the rollback this was a 500."""
    from tests.support.capture import create_direct, path_of

    client, agent = logged_in("agent")
    _public_id, url = create_direct(app, agent.id, language="cy")
    with app.app_context():
        engine = db.engine
    failed = []

    def fail_the_language_read(connection, cursor, statement, *_):
        if statement.lstrip().startswith("SELECT capture_requests.language") and not failed:
            failed.append(statement)
            # A statement the server itself refuses, inside the request's transaction.
            cursor.execute("SELECT CAST('not a number' AS INTEGER) / 0")
            raise engine.dialect.loaded_dbapi.OperationalError("refused by the test")

    event.listen(engine, "before_cursor_execute", fail_the_language_read)
    try:
        response = client.get(path_of(url) + "/nowhere")
        after = client.get("/agent/")
    finally:
        event.remove(engine, "before_cursor_execute", fail_the_language_read)

    assert failed, "the language was read, and failed"
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and "Page not found" in page
    assert after.status_code == 200  # the agent is still signed in
