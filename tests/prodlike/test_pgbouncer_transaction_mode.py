"""Postern behind PgBouncer in transaction mode (tests/prodlike/pgbouncer.py, Debian's 1.18).

What transaction pooling breaks, and what it does not (docs/scaling.md):
- psycopg prepares a statement on the server once it has run five times on a connection, and
  names it from then on; a transaction pool runs the next transaction on whichever server
  connection is free, where that name does not exist. Shown here on psycopg itself, and fixed
  by ``POSTERN_DATABASE_POOLER=pgbouncer-transaction`` (psycopg's ``prepare_threshold=None``).
- Everything else Postern asks of a connection lives inside one transaction: advisory locks
  are ``pg_advisory_xact_lock``, settings are ``SET LOCAL``, queue claims are
  ``FOR UPDATE SKIP LOCKED``; nothing uses LISTEN/NOTIFY or a session-level SET. The journey
  through the whole production-like stack (two instances, both workers) proves it.
"""

from __future__ import annotations

import html
import re
import secrets
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import select, text

from tests.prodlike.pgbouncer import PgBouncer, pgbouncer, pgbouncer_unavailable
from tests.prodlike.scale_out import LoadRun
from tests.prodlike.stack import ADMIN_DATABASE_URL, create_database, drop_database, start_stack
from tests.reliability.refund_support import ask_full_refund, officer_of, page_after
from tests.reliability.stack_payments import (
    intent_on_page,
    pay_in_browser,
    wait_for_webhooks_handled,
)
from tests.reliability.stack_support import (
    IDENTITY_ANSWER,
    audit_verify,
    browser,
    link_in,
    signed_in_agent,
)
from tests.reliability.support import console_form, create_form
from tests.support.customer_details import ADDRESS
from tests.support.database import dispose_engines
from tests.support.loopback import wait_until
from tests.support.web import csrf_from

pytestmark = [
    pytest.mark.prodlike,
    pytest.mark.skipif(pgbouncer_unavailable() is not None, reason=str(pgbouncer_unavailable())),
]

POOLER = "pgbouncer-transaction"
REPEATED = "SELECT %s::int + 1"
_HIDDEN = re.compile(r"<input[^>]*type=\"hidden\"[^>]*>")
_NAME, _VALUE = re.compile(r'name="([^"]+)"'), re.compile(r'value="([^"]*)"')
_LINK = re.compile(r"https://[^\s\"'<>]+/c/[A-Za-z0-9_.\-]+")


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    with pgbouncer(ADMIN_DATABASE_URL) as running:
        yield running


@pytest.fixture
def database(bouncer) -> Iterator[str]:
    """An empty database on the server; its name."""
    url = create_database(ADMIN_DATABASE_URL)
    yield url.rsplit("/", 1)[1]
    drop_database(ADMIN_DATABASE_URL, url)


def _hold_the_last_server_connection(bouncer: PgBouncer, name: str) -> psycopg.Connection:
    """Another client in a transaction on the server connection used last: PgBouncer hands out
    its idle server connections newest first, so this one takes the connection the other
    client's statements were just prepared on."""
    other = psycopg.connect(bouncer.url(name), prepare_threshold=None)
    other.execute("SELECT 1")  # opens a transaction: the server connection stays with it
    return other


def test_psycopg_prepared_statements_are_lost_in_a_transaction_pool(bouncer, database):
    """Proves the failure, with psycopg's defaults: a statement run often enough to be prepared
    on one server connection is then sent by name to another, which does not know it."""
    client = psycopg.connect(bouncer.url(database))  # prepare_threshold: psycopg's default, 5
    try:
        for number in range(8):
            client.execute(REPEATED, (number,))
            client.commit()
        other = _hold_the_last_server_connection(bouncer, database)
        with pytest.raises(psycopg.errors.InvalidSqlStatementName, match="does not exist"):
            client.execute(REPEATED, (8,))
        other.close()
    finally:
        client.close()


def test_the_pooler_setting_keeps_postern_working_in_a_transaction_pool(bouncer, database):
    """Proves the fix: with ``DATABASE_POOLER = "pgbouncer-transaction"`` the app's engines
    never prepare, so the same interleaving goes through."""
    from portal import create_app
    from portal.extensions import db

    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": bouncer.url(database).replace(
                "postgresql://", "postgresql+psycopg://"
            ),
            "DATABASE_POOLER": POOLER,
        },
    )
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.connection.driver_connection.prepare_threshold is None
            for number in range(8):
                connection.execute(text("SELECT :n + 1"), {"n": number})
                connection.commit()
            other = _hold_the_last_server_connection(bouncer, database)
            assert connection.execute(text("SELECT :n + 1"), {"n": 8}).scalar_one() == 9
            other.close()
        dispose_engines(db)


def test_a_whole_journey_runs_through_pgbouncer_in_transaction_mode(
    bouncer, database, prodlike_certificates
):
    """Proves: the production-like stack (two instances, both workers, migrations and the
    operator's commands) on PgBouncer in transaction mode with the setting on: a request
    created at the console and emailed by the outbox worker, the customer's landing, Start,
    identity check, personal details and payment through the Stripe sandbox, Stripe's
    webhooks through the inbox and its worker, a refund, the back office's list and CSV
    export, and ``flask audit verify`` all work;
    then 4 agents create 80 requests at once with customers landing on half of them, with no
    error (without the setting, such a run met "prepared statement ... does not exist" and
    "... already exists" as 500s on about one request in 20). Every query of it went through
    PgBouncer's pool."""
    stack = start_stack(
        name="pgbouncer",
        database_url=bouncer.url(database),
        certificates=prodlike_certificates,
        extra_env={"POSTERN_DATABASE_POOLER": POOLER},
    )
    # Apps this test builds in-process (seeding staff, reading rows) use the pool the same way.
    stack.environment.put("POSTERN_DATABASE_POOLER", "DATABASE_POOLER", POOLER)
    try:
        _journey(stack)
        _concurrent_creates(stack)
        for name, service in stack.services.items():
            assert service.alive(), f"{name} died:\n{service.tail()}"
            assert "does not exist" not in service.tail(200_000), f"{name}:\n{service.tail()}"
        stats = bouncer.stats(database)
        assert stats["total_xact_count"] > 100, stats  # the journey ran through the pool
        pool = bouncer.pools(database)
        print(f"\nPgBouncer for the journey: {stats}\n{pool}")
    finally:
        stack.stop()


def _journey(stack) -> None:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    agent_id, agent = signed_in_agent(stack, f"pooled.agent.{secrets.token_hex(3)}")
    csrf, key = console_form(agent, stack.url)
    form = {**create_form(csrf, key, "POOLED-1", "email"), "kind": "both", "field_set": "address"}
    created = agent.post(stack.url + "/agent/requests", data=form, allow_redirects=False)
    assert created.status_code == 302, (created.status_code, created.text[:300])
    with stack.app().app_context():
        public_id = db.session.execute(
            select(CaptureRequest.public_id).where(
                CaptureRequest.created_by_id == agent_id, CaptureRequest.create_key == key
            )
        ).scalar_one()
        db.session.remove()

    def emailed_link() -> str | None:  # the outbox worker's work
        for message in list(stack.mailbox.messages):
            if link_in(message) == public_id:
                return _LINK.search(message.get_body(("plain",)).get_content()).group(0)
        return None

    link = wait_until(emailed_link, 60, "the outbox worker to email the link")
    customer = browser(stack)
    landing = customer.get(link)
    assert landing.status_code == 200
    started = customer.post(
        link + "/start", data={"csrf_token": csrf_from(landing.text)}, allow_redirects=False
    )
    assert started.status_code == 303
    check = customer.get(link + "/check")
    answered = customer.post(
        link + "/check",
        data={"answer": IDENTITY_ANSWER, "csrf_token": csrf_from(check.text)},
        allow_redirects=False,
    )
    assert answered.status_code == 303, answered.status_code

    details = customer.get(link + "/details")
    assert details.status_code == 200, details.status_code
    sent = customer.post(
        link + "/details",
        data={**_hidden_fields(details.text), **ADDRESS, "decision": "send"},
        allow_redirects=False,
    )
    assert sent.status_code == 303, (sent.status_code, sent.text[:500])

    page = customer.get(link + "/pay")
    assert page.status_code == 200, page.status_code
    _, client_secret = intent_on_page(page.text)
    assert pay_in_browser(stack, client_secret)["status"] == "succeeded"
    status = customer.get(link + "/pay/status").json()
    assert status["state"] == "succeeded", status
    wait_for_webhooks_handled(stack)  # the webhook inbox and its worker

    officer, _ = officer_of(stack)
    refunded = page_after(stack, officer, ask_full_refund(stack, officer, public_id))
    assert "Refund sent to Stripe: Refunded." in refunded, refunded[:2000]
    wait_for_webhooks_handled(stack)
    # The back office's read side: the list, and the CSV export PostgreSQL writes with COPY.
    assert "POOLED-1" in officer.get(stack.url + "/backoffice/transactions").text
    export = officer.get(stack.url + "/backoffice/transactions/export.csv")
    assert export.status_code == 200 and "POOLED-1" in export.text, export.text[:300]
    with stack.app().app_context():
        row = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        assert row.status == "succeeded", row.status
        db.session.remove()
    audit_verify(stack)


def _concurrent_creates(stack) -> None:
    """4 agents creating 20 requests each at once, customers landing on every other one: the
    interleaving that moves transactions between server connections. No retries: every
    answer must be the first one."""
    agents, tokens = [], []
    for number in range(4):
        _, agent = signed_in_agent(stack, f"pooled.load{number}.{secrets.token_hex(3)}")
        agents.append(agent)
        tokens.append(console_form(agent, stack.url)[0])
    run = LoadRun(stack, agents, 20, 2, 6.0, tokens, max_tries=1)
    run.run()
    statuses = Counter(str(attempt.status) for attempt in run.attempts)
    assert statuses == {"201": 80, "200": 40}, statuses


def _hidden_fields(page_html: str) -> dict[str, str]:
    """The hidden inputs of a page's form (CSRF token, the notice version shown)."""
    fields = {}
    for tag in _HIDDEN.findall(page_html):
        name, value = _NAME.search(tag), _VALUE.search(tag)
        if name:
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return fields
