"""PostgreSQL stops during traffic and starts again, on the production-like stack (nginx,
gunicorn with production settings, Redis, both workers, Stripe's sandbox): Postern says so
plainly and recovers by itself.

The stack runs on a PRIVATE PostgreSQL cluster (initdb into a temporary directory, a free
port), never the shared server other work relies on. Its rate limits are lifted (every
simulated browser shares 127.0.0.1); nothing else differs from production.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass

import psycopg
import pytest
import requests
from sqlalchemy import select

from portal.audit.pending import HOLD_EVERY_LANE
from tests.reliability.stack_payments import (
    charges_for,
    customer_at_payment,
    events_about,
    inbox_rows,
    intent_on_page,
    intents_made_for,
    pay_in_browser,
    sandbox_quiet,
)
from tests.reliability.stack_support import (
    audit_verify,
    browser,
    count_mail,
    database,
    links_of_messages,
    plain_url,
    signed_in_agent,
    start_fault_stack,
)
from tests.reliability.support import (
    assert_requests_whole,
    console_form,
    create_form,
    record_fault,
)
from tests.support.loopback import wait_until
from tests.support.private_postgres import private_postgres, private_postgres_unavailable

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.prodlike,
    pytest.mark.skipif(
        private_postgres_unavailable() is not None,
        reason=str(private_postgres_unavailable()),
    ),
]
CREATORS = 8
#: Between one create and the next in each tab: an agent's pace, hurried.
THINK_SECONDS = 0.05
PREFIX = "PG-"
#: How long PostgreSQL stays down.
OUTAGE_SECONDS = 3.0


def _waiting_on_locks(connection) -> int:
    return connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    ).fetchone()[0]


def _our_error_page(answer: requests.Response) -> bool:
    """Postern's own 503 page (or JSON), not nginx's or gunicorn's bare one."""
    if answer.status_code != 503:
        return False
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        return answer.json().get("error") == 503
    return "Error 503" in answer.text and "nginx" not in answer.text


class Traffic:
    """An agent's browser creating requests from several tabs at once until stopped, so that
    some transactions are always in flight when PostgreSQL stops; remembers every answer."""

    def __init__(self, stack, agent: requests.Session):
        # One CSRF token and one cookie set serve the whole run (the token lives in the signed
        # session cookie, not in the database), so creates keep arriving while PostgreSQL is
        # down. Answers' cookies are not kept: each create adds a flash message to the cookie.
        self.stack = stack
        self.csrf, _ = console_form(agent, stack.url)
        self.cookies = agent.cookies.get_dict()
        self.stop = threading.Event()
        self.answers: list[tuple[str, int | str]] = []
        self.unclear: list[str] = []
        self.numbers = itertools.count()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CREATORS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        tab = browser(self.stack)
        while not self.stop.is_set():
            reference = f"{PREFIX}{next(self.numbers):05d}"
            form = create_form(self.csrf, secrets.token_urlsafe(16), reference, "email")
            tab.cookies.clear()
            try:
                answer = tab.post(
                    self.stack.url + "/agent/requests",
                    data=form,
                    cookies=self.cookies,
                    allow_redirects=False,
                    timeout=30,
                )
            except requests.RequestException as problem:
                self.answers.append((reference, type(problem).__name__))
                continue
            self.answers.append((reference, answer.status_code))
            if answer.status_code != 302 and not _our_error_page(answer):
                self.unclear.append(f"{answer.status_code}: {answer.text[:200]}")
            self.stop.wait(THINK_SECONDS)

    def statuses(self) -> set:
        return {status for _, status in self.answers}


#: How long after PostgreSQL is back every link must be on its way: the outbox worker polls every
#: second and waits 5 s after a failed batch, then sends the backlog the tabs made meanwhile.
#: Well short of a lease (DELIVERY_LEASE_SECONDS, 120 s), which is what the test tells apart.
SENT_WITHIN_SECONDS = 30


@dataclass
class Outage:
    """What the outage scenario (``outage`` fixture) saw."""

    stack: object
    traffic: Traffic
    probes: list
    customer: object
    seconds: float
    refused_deliveries: int
    links: dict  # link: outbox status, SENT_WITHIN_SECONDS after the traffic ended
    stuck: list  # (message id, claimed_by, claimed_until) of links not sent by then


@pytest.fixture(scope="module")
def outage():
    """The production-like stack on a private PostgreSQL cluster, taken through the outage
    once: agents creating requests (some caught mid-transaction), the outbox worker in the
    middle of a batch (the mail server answering "try again later" as PostgreSQL goes), a
    customer paying at Stripe while PostgreSQL is down, then PostgreSQL started again."""
    with private_postgres() as cluster:
        stack = start_fault_stack("faults-database_restart", plain_url(cluster.url))
        try:
            yield _run_outage(stack, cluster)
        finally:
            stack.stop()


def _run_outage(stack, cluster) -> Outage:
    agent_id, agent = signed_in_agent(stack, "pgagent")
    customer = customer_at_payment(stack, agent_id, reference="PAY-DURING-OUTAGE")
    page = customer.session.get(customer.pay_url, timeout=30)
    assert page.status_code == 200, page.status_code
    _, client_secret = intent_on_page(page.text)

    traffic = Traffic(stack, agent)
    traffic.start()
    probes: list[requests.Response] = []
    mid_send, release = threading.Event(), threading.Event()

    def busy_mail_server(_message) -> str | None:
        """Holds the outbox worker in the middle of sending one link (of a batch it claimed)
        until PostgreSQL has stopped, then asks it to try again later."""
        if mid_send.is_set():
            return None
        mid_send.set()
        release.wait(30)
        return "451 4.3.0 Try again later"

    try:
        wait_until(lambda: 302 in traffic.statuses(), 30, "requests before the outage")
        stack.mailbox.before_reply = busy_mail_server
        wait_until(mid_send.is_set, 30, "the outbox worker sending a link")
        # Hold every audit lane so creates are caught mid-transaction (their request row
        # inserted, not committed) at the moment PostgreSQL stops. ``blocker`` watches from
        # outside the holding transaction (a transaction sees one snapshot of pg_stat_activity).
        holder = psycopg.connect(plain_url(cluster.url))
        holder.execute(HOLD_EVERY_LANE)
        blocker = psycopg.connect(plain_url(cluster.url), autocommit=True)
        wait_until(lambda: _waiting_on_locks(blocker) >= 2, 20, "creates mid-transaction")
        cluster.stop()
        stopped_at = time.monotonic()
        blocker.close()
        holder.close()
        release.set()

        probes.append(requests.get(stack.http_url + "/readyz", timeout=10))
        probes.append(agent.get(stack.url + "/agent/", timeout=10))
        probes.append(agent.get(stack.url + "/agent/api/requests", timeout=10))
        paid = pay_in_browser(stack, client_secret)  # Stripe is up; our database is not
        assert paid["status"] == "succeeded", paid
        probes.append(customer.session.get(customer.pay_url + "/status", timeout=10))
        seen_before = len(traffic.answers)
        wait_until(
            lambda: any(status == 503 for _, status in traffic.answers[seen_before:]),
            20,
            "a create refused with 503 during the outage",
        )
        refused = wait_until(
            lambda: [
                delivery
                for delivery in stack.sandbox.webhook_deliveries()
                if not delivery["delivered"]
            ],
            30,
            "Stripe's webhook refused during the outage",
        )
        # The fault lasts a few seconds whatever the checks above took: its length is the
        # fault itself (Stripe retries meanwhile, the workers poll and fail).
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        seconds = time.monotonic() - stopped_at

        cluster.start()
        wait_until(
            lambda: requests.get(stack.http_url + "/readyz", timeout=10).status_code == 200,
            30,
            "readiness after PostgreSQL came back",
            every=0.2,
        )
        after = len(traffic.answers)
        wait_until(
            lambda: any(status == 302 for _, status in traffic.answers[after:]),
            30,
            "a request created after the restart",
        )
    finally:
        release.set()
        stack.mailbox.before_reply = None
        traffic.join()
    with contextlib.suppress(AssertionError):  # what is left unsent is reported below
        wait_until(
            lambda: set(links_of_messages(stack, PREFIX).values()) == {"sent"},
            SENT_WITHIN_SECONDS,
            "every link sent",
            every=0.2,
        )
    with database(stack) as connection:
        stuck = connection.execute(
            "SELECT m.id, m.claimed_by, m.claimed_until FROM delivery_messages m "
            "JOIN capture_requests r ON r.id = m.capture_request_id "
            "WHERE r.reference LIKE %s AND m.status <> 'sent' ORDER BY m.id",
            (PREFIX + "%",),
        ).fetchall()
    return Outage(
        stack,
        traffic,
        probes,
        customer,
        seconds,
        len(refused),
        links_of_messages(stack, PREFIX),
        stuck,
    )


def test_database_outage_is_reported_and_recovered_from(outage):
    """Proves: with PostgreSQL stopped (creates caught mid-transaction, a customer paying at
    Stripe), every answer through nginx is a success or Postern's clear 503 page (never
    gunicorn's bare 500, never nginx's 502); /readyz says the database is unreachable. Once it
    is back, the same processes serve again without a restart: every request reported created
    exists once with its audit row and outbox message, no link is emailed twice or dropped
    (each is sent, or still claimed to be sent), the customer's payment is recorded (one
    PaymentIntent, one charge) and every webhook Stripe sent was taken in once, both workers
    are still running, and ``flask audit verify`` passes."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment

    stack, traffic, customer = outage.stack, outage.traffic, outage.customer
    ready, console, poll, status_poll = outage.probes
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable", ready.text
    assert all(_our_error_page(answer) for answer in (console, poll, status_poll)), [
        (answer.status_code, answer.text[:200]) for answer in (console, poll, status_poll)
    ]
    assert "The service is temporarily unavailable" in console.text
    assert console.headers.get("Cache-Control", "").startswith("no-store")

    statuses = Counter(status for _, status in traffic.answers)
    assert set(statuses) <= {302, 503}, statuses  # never a 500, a 502 or a dropped connection
    assert not traffic.unclear, traffic.unclear[:3]
    created = {reference for reference, status in traffic.answers if status == 302}
    attempted = {reference for reference, _ in traffic.answers}
    with stack.app().app_context():
        stored = Counter(
            db.session.execute(
                select(CaptureRequest.reference).where(CaptureRequest.reference.startswith(PREFIX))
            ).scalars()
        )
        db.session.remove()
    lost = len(created - set(stored))
    doubled = sum(count - 1 for count in stored.values())
    assert lost == 0, "a request reported created was lost"
    assert doubled == 0, "a request was created twice"
    assert set(stored) <= attempted
    assert assert_requests_whole(stack.app(), PREFIX) == len(stored)

    # The customer's page asks Stripe, so it knows at once; Stripe's refused webhooks are
    # redelivered and taken in once each.
    answer = customer.session.get(customer.pay_url + "/status", timeout=30)
    assert answer.status_code == 200 and answer.json()["state"] == "succeeded", answer.text
    with stack.app().app_context():
        payment = db.session.execute(
            select(CaptureRequest.status, Payment.status, Payment.stripe_payment_intent_id)
            .join(Payment, Payment.capture_request_id == CaptureRequest.id)
            .where(CaptureRequest.public_id == customer.public_id)
        ).one()
        db.session.remove()
    assert tuple(payment[:2]) == ("succeeded", "succeeded"), payment
    assert len(intents_made_for(stack, customer.public_id)) == 1
    assert len(charges_for(stack, customer.public_id)) == 1
    wait_until(lambda: sandbox_quiet(stack), 60, "Stripe's redeliveries", every=0.2)
    events = {event["id"] for event in events_about(stack, {payment.stripe_payment_intent_id})}
    taken_in = inbox_rows(stack, events)
    assert set(taken_in) == events, "an event Stripe delivered was not taken in"
    assert {outcome for outcome, _ in taken_in.values()} <= {"applied", "queued"}

    # Links: none sent twice, none dropped (sent, or claimed by the live worker to be sent).
    mail = count_mail(stack.mailbox.messages, set(outage.links))
    unsent = {link for link, status in outage.links.items() if status != "sent"}
    assert mail.doubles == 0, mail.doubled
    assert set(mail.lost) == unsent, (mail.lost, unsent)
    assert {status for link, status in outage.links.items() if link in unsent} <= {"sending"}
    for name in ("gunicorn", "outbox-worker", "webhooks-worker", "nginx"):
        assert stack.services[name].alive(), f"{name} died:\n{stack.services[name].tail()}"
    audit_verify(stack)
    record_fault(
        "PostgreSQL (private cluster) stopped with creates mid-transaction and a customer "
        "paying, then started",
        "every answer a success or the clear 503 page (no 500, no 502); nothing created twice "
        "or acknowledged-then-lost; payment recorded once; recovery without restarts",
        f"{len(traffic.answers)} creates over a {outage.seconds:.1f} s outage: "
        f"{statuses[302]} created, {statuses[503]} clear 503; readyz 503 then 200; "
        f"Stripe's webhook refused {outage.refused_deliveries}x then redelivered; payment "
        f"succeeded, 1 PaymentIntent, 1 charge; {len(stored)} links: "
        f"{len(stored) - len(unsent)} emailed once, {len(unsent)} still held by the outbox "
        f"worker's claim {SENT_WITHIN_SECONDS} s after recovery (none twice)",
        lost,
        doubled + mail.doubles,
    )


def test_links_claimed_when_the_database_went_away_are_sent_soon_after_it_is_back(outage):
    """Proves: a link the outbox worker had claimed when PostgreSQL went away is sent within
    SENT_WITHIN_SECONDS of its return (the worker polls every second), not after its lease."""
    assert outage.stuck == [], (
        f"{len(outage.stuck)} links not sent {SENT_WITHIN_SECONDS} s after PostgreSQL came back, "
        f"still claimed: {outage.stuck[:3]}"
    )
