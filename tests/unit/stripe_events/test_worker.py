"""The webhook worker over a real inbox: every event of a batch is handled whatever happens to
the others, the counts add up, the batch size setting holds, an event another worker has taken
over is left to it, and the log lines operators alert on say what happened to which event.

Stripe's side is a ``StripeGateway`` twin answering per PaymentIntent (the edge the worker
talks to); everything else (inbox, leases, dispatch, payments) is the real code on the test
database.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models.payment import Payment, ProcessedWebhookEvent
from portal.models.types import utcnow
from portal.payments.facts import IntentFacts, WebhookEvent
from portal.payments.gateway import ProviderUnavailable, StripeGateway
from portal.stripe_events import inbox
from portal.stripe_events.worker import run_once
from tests.support.capture import capture_request_row

DOWN, BUG, SLOW = "pi_down", "pi_bug", "pi_slow"


class StripeTwin(StripeGateway):
    """Stripe as the worker sees it: unreachable about ``pi_down``, failing unforeseeably
    about ``pi_bug``, and answering "processing" about anything else, after ``on_ask`` ran."""

    def __init__(self, on_ask=None):
        self.asked: list[str] = []
        self.on_ask = on_ask

    def retrieve_payment_intent(self, intent_id: str) -> IntentFacts:
        self.asked.append(intent_id)
        if self.on_ask:
            self.on_ask(intent_id)
        if intent_id == DOWN:
            raise ProviderUnavailable("server")
        if intent_id == BUG:
            raise RuntimeError("unforeseen")
        return IntentFacts(id=intent_id, status="processing", amount=1250, currency="gbp")


@pytest.fixture
def ctx(app, make_staff):
    agent = make_staff("agent")
    with app.app_context():
        app.config["WEBHOOK_MAX_ATTEMPTS"] = 3
        app.config["_agent_id"] = agent.id
        yield app


def payment_for(app, intent_id: str, status: str = "processing") -> Payment:
    """A payment of ours whose PaymentIntent is ``intent_id``, not yet final."""
    now = utcnow()
    request = capture_request_row(app.config["_agent_id"], now=now, status="in_progress")
    db.session.add(request)
    db.session.flush()
    payment = Payment(
        capture_request_id=request.id,
        amount_minor=1250,
        currency="GBP",
        status=status,
        stripe_payment_intent_id=intent_id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(payment)
    db.session.commit()
    return payment


def queue(*events: tuple[str, str | None]) -> list[str]:
    """Queue one event per (id, PaymentIntent id), in this order; returns the ids."""
    for event_id, intent_id in events:
        event = WebhookEvent(
            id=event_id, type="payment_intent.succeeded", object_type="payment_intent",
            object_id=intent_id, payment_intent_id=intent_id,
        )  # fmt: skip
        assert inbox.take_in(event, queue=True)
        db.session.commit()
    return [event_id for event_id, _ in events]


def rows() -> dict[str, ProcessedWebhookEvent]:
    db.session.expire_all()
    found = db.session.execute(select(ProcessedWebhookEvent)).scalars()
    return {row.stripe_event_id: row for row in found}


def test_every_event_of_a_batch_is_handled_whatever_happens_to_the_others(ctx):
    """Proves: an unforeseen error, then Stripe unreachable, then an event not ours, then two
    applied: one batch handles all five, and the counts say so."""
    for intent in (BUG, DOWN, SLOW, "pi_other"):
        payment_for(ctx, intent)
    ids = queue(("evt_bug", BUG), ("evt_down", DOWN), ("evt_stranger", "pi_stranger"),
                ("evt_slow", SLOW), ("evt_other", "pi_other"))  # fmt: skip

    counts = run_once(worker_id="w1", gateway=StripeTwin())

    assert counts.as_dict() == {
        "claimed": 5, "applied": 2, "not_ours": 1, "retrying": 2, "failed": 0,
    }  # fmt: skip
    found = rows()
    assert [found[i].outcome for i in ids] == [
        "queued", "queued", "not_ours", "applied", "applied",
    ]  # fmt: skip
    assert (found["evt_bug"].last_error, found["evt_down"].last_error) == (
        "RuntimeError",
        "payment provider unavailable (server)",
    )
    assert all(row.claimed_by is None for row in found.values())


def test_events_given_up_in_one_batch_are_all_counted(ctx):
    ctx.config["WEBHOOK_MAX_ATTEMPTS"] = 1
    payment_for(ctx, BUG)
    payment_for(ctx, DOWN)
    queue(("evt_bug", BUG), ("evt_down", DOWN))

    counts = run_once(worker_id="w1", gateway=StripeTwin())

    assert (counts.failed, counts.retrying) == (2, 0)
    assert {row.outcome for row in rows().values()} == {"failed"}


def test_a_second_event_about_an_intent_already_asked_is_settled_and_the_batch_goes_on(ctx):
    """Proves: Stripe is asked once about a PaymentIntent per batch; the later event about it
    is marked applied without asking, and the events after it are still handled."""
    payment_for(ctx, SLOW)
    ids = queue(("evt_1", SLOW), ("evt_2", SLOW), ("evt_stranger", "pi_stranger"))
    twin = StripeTwin()

    counts = run_once(worker_id="w1", gateway=twin)

    assert twin.asked == [SLOW]
    assert (counts.claimed, counts.applied, counts.not_ours) == (3, 2, 1)
    found = rows()
    assert [found[i].outcome for i in ids] == ["applied", "applied", "not_ours"]


def test_without_a_batch_argument_the_setting_bounds_the_batch(ctx):
    ctx.config["WEBHOOK_BATCH_SIZE"] = 2
    queue(("evt_a", "pi_a"), ("evt_b", "pi_b"), ("evt_c", "pi_c"))

    assert run_once(worker_id="w1", gateway=StripeTwin()).claimed == 2
    assert run_once(worker_id="w1", gateway=StripeTwin()).claimed == 1


def take_over_in_another_worker(app, *event_ids: str) -> None:
    """Worker ``w2`` leases ``event_ids`` as it would once w1's lease had lapsed (its clock
    past the lease), on its own connection, and commits."""

    def take_over() -> None:
        with app.app_context():
            later = utcnow() + timedelta(seconds=app.config["WEBHOOK_LEASE_SECONDS"] + 1)
            taken = inbox.claim_due(later, 10, "w2")
            assert [held.event.id for held in taken] == list(event_ids)
            db.session.remove()

    thread = threading.Thread(target=take_over)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()


@pytest.mark.parametrize("intent", [DOWN, BUG], ids=["stripe-unreachable", "unforeseen-error"])
def test_a_retry_never_releases_an_event_another_worker_has_taken_over(ctx, intent):
    """Proves: when w1's lease lapsed while Stripe kept it waiting and w2 took the event over,
    w1's failure (either kind) leaves w2's lease and the row as w2 holds them."""
    payment_for(ctx, intent)
    queue(("evt_1", intent))
    twin = StripeTwin(on_ask=lambda _: take_over_in_another_worker(ctx, "evt_1"))

    counts = run_once(worker_id="w1", gateway=twin)

    assert counts.retrying == 1
    row = rows()["evt_1"]
    assert (row.claimed_by, row.outcome, row.last_error, row.attempts) == ("w2", "queued", None, 2)


def test_a_handled_event_is_never_marked_under_another_workers_lease(ctx):
    """Proves: the same when handling succeeds, for the event Stripe was asked about and for
    the later one settled without asking: w2 took both over while w1 waited for Stripe, so
    w1 marks neither (w2 handles them again, which changes nothing twice)."""
    payment_for(ctx, SLOW)
    queue(("evt_1", SLOW), ("evt_2", SLOW))
    twin = StripeTwin(on_ask=lambda _: take_over_in_another_worker(ctx, "evt_1", "evt_2"))

    counts = run_once(worker_id="w1", gateway=twin)

    assert counts.claimed == 2 and twin.asked == [SLOW]
    found = rows()
    assert {(row.claimed_by, row.outcome) for row in found.values()} == {("w2", "queued")}


def test_the_log_lines_name_the_event_and_what_comes_next(ctx, caplog):
    """Proves: an unforeseen error is logged with its traceback and the event id; a retry says
    when (and of which event, which type, which error); giving up says after how many
    attempts and that reconcile repairs it."""
    caplog.set_level(logging.INFO, logger="postern")
    payment_for(ctx, BUG)
    queue(("evt_bug", BUG))

    run_once(worker_id="w1", gateway=StripeTwin())

    [unforeseen] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert unforeseen.getMessage() == "webhook worker: event evt_bug could not be handled"
    assert unforeseen.exc_info and unforeseen.exc_info[0] is RuntimeError
    [retrying] = [r for r in caplog.records if r.levelno == logging.WARNING]
    said = re.fullmatch(r"webhook not handled yet; retrying in (\d+) s", retrying.getMessage())
    waited = rows()["evt_bug"].next_attempt_at - utcnow()
    assert said and abs(int(said.group(1)) - waited.total_seconds()) < 5
    assert (retrying.event_id, retrying.event_type, retrying.error) == (
        "evt_bug",
        "payment_intent.succeeded",
        "RuntimeError",
    )

    caplog.clear()
    ctx.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    row = db.session.execute(select(ProcessedWebhookEvent)).scalar_one()
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    run_once(worker_id="w1", gateway=StripeTwin())

    [given_up] = [r for r in caplog.records if r.getMessage().startswith("webhook given up")]
    assert given_up.levelno == logging.ERROR
    assert given_up.getMessage() == (
        "webhook given up after 2 attempts; reconcile repairs what it would have told us"
    )
    assert (given_up.event_id, given_up.event_type, given_up.error) == (
        "evt_bug",
        "payment_intent.succeeded",
        "RuntimeError",
    )
