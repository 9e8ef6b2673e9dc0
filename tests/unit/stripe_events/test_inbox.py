"""portal.stripe_events.inbox: each Stripe event id is taken in once, even when a duplicate
delivery races the first one on another connection; each queued event is leased by one worker
at a time, and a lease that lapses (its worker died) is taken over."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from portal.payments.facts import WebhookEvent

EVENT = WebhookEvent(
    id="evt_ledger_race", type="payment_intent.succeeded", object_type=None,
    object_id=None, payment_intent_id=None,
)  # fmt: skip


def claim_in_thread(app) -> tuple[threading.Thread, dict]:
    """Take EVENT in on a connection of its own, committing if it gets in."""
    from portal.extensions import db
    from portal.stripe_events import inbox

    result: dict = {}

    def run() -> None:
        with app.app_context():
            result["claimed"] = inbox.take_in(EVENT, queue=True)
            if result["claimed"]:
                db.session.commit()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def wait_until_blocked(app, thread: threading.Thread) -> None:
    """On PostgreSQL, wait (bounded) until the racing claim is inside its INSERT, waiting for
    the first claim's transaction: the race is then certain, not a matter of timing. SQLite
    has no such view; there the racing claim simply runs before or after the first ends."""
    from portal.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return
        for _ in range(500):
            waiting = db.session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'INSERT INTO processed_webhook_events%'"
                )
            ).scalar_one()
            db.session.rollback()
            if waiting:
                return
            thread.join(timeout=0.01)
        pytest.fail("the racing claim never waited for the first one")


@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_a_duplicate_racing_the_first_claim_waits_for_its_outcome(app, first_ends):
    """Proves: while a first delivery of an event id is not yet committed, a second delivery
    of the same id waits for it; it is told "already there" if the first commits, and is taken
    in itself if the first rolls back (Stripe's retry is then handled afresh). Either way
    exactly one inbox row remains."""
    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent
    from portal.stripe_events import inbox

    with app.app_context():
        assert inbox.take_in(EVENT, queue=True) is True
        racer, result = claim_in_thread(app)
        wait_until_blocked(app, racer)
        if first_ends == "commit":
            db.session.commit()
        else:
            db.session.rollback()
        racer.join(timeout=10)

        assert not racer.is_alive()
        assert result["claimed"] is (first_ends == "rollback")
        rows = db.session.execute(
            select(func.count()).select_from(ProcessedWebhookEvent)
        ).scalar_one()
        assert rows == 1


def test_a_claim_of_an_id_already_recorded_is_refused_and_ends_the_transaction(app):
    """Proves: a duplicate returns False and rolls back, so nothing the caller did in that
    transaction before asking can be committed by mistake afterwards."""
    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent
    from portal.stripe_events import inbox

    with app.app_context():
        assert inbox.take_in(EVENT, queue=True) is True
        db.session.commit()

        assert inbox.take_in(EVENT, queue=False) is False
        assert not db.session().in_transaction()
        outcomes = db.session.execute(select(ProcessedWebhookEvent.outcome)).scalars().all()
        assert outcomes == ["queued"]


def queue(app, *events: WebhookEvent) -> None:
    from portal.extensions import db
    from portal.stripe_events import inbox

    with app.app_context():
        for event in events:
            assert inbox.take_in(event, queue=True)
            db.session.commit()


def event(number: int) -> WebhookEvent:
    return WebhookEvent(
        id=f"evt_inbox_{number}", type="payment_intent.succeeded", object_type="payment_intent",
        object_id=f"pi_{number}", payment_intent_id=f"pi_{number}",
    )  # fmt: skip


def test_two_workers_never_lease_the_same_event(app):
    """Proves: events leased by one worker are not due for another until the lease lapses."""
    from portal.models.types import utcnow
    from portal.stripe_events import inbox

    queue(app, event(1), event(2), event(3))
    with app.app_context():
        first = inbox.claim_due(utcnow(), 2, "worker-a")
        second = inbox.claim_due(utcnow(), 10, "worker-b")

    assert [held.event.id for held in first] == ["evt_inbox_1", "evt_inbox_2"]
    assert [held.event.id for held in second] == ["evt_inbox_3"]
    assert first[0].event == event(1)  # the ids the handlers need, rebuilt from the row
    assert {held.attempt for held in first + second} == {1}


def test_a_lapsed_lease_is_taken_over_and_the_old_worker_can_no_longer_finish(app):
    """Proves: a worker that died holding an event does not strand it: once its lease lapses
    another worker leases it (as attempt 2), and the dead worker's late "finish" (had it only
    stalled) changes nothing."""
    from datetime import timedelta

    from sqlalchemy import select

    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent
    from portal.models.types import utcnow
    from portal.stripe_events import inbox

    queue(app, event(1))
    with app.app_context():
        lease_seconds = app.config["WEBHOOK_LEASE_SECONDS"]
        [stalled] = inbox.claim_due(utcnow(), 10, "worker-a")
        assert inbox.claim_due(utcnow(), 10, "worker-b") == []

        later = utcnow() + timedelta(seconds=lease_seconds + 1)
        [taken_over] = inbox.claim_due(later, 10, "worker-b")
        inbox.finish(stalled.row_id, "applied", "worker-a")
        db.session.commit()
        row = db.session.execute(select(ProcessedWebhookEvent)).scalar_one()

        assert (taken_over.row_id, taken_over.attempt) == (stalled.row_id, 2)
        assert (row.outcome, row.claimed_by) == ("queued", "worker-b")


def test_two_workers_draining_one_queue_handle_every_event_once(app):
    """Proves: two webhook workers running at once (threads with their own database
    connections; on PostgreSQL they pick candidates with SKIP LOCKED) handle every queued event
    exactly once between them: each ends on its first attempt, none is left queued."""
    import threading

    from sqlalchemy import select

    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent
    from portal.stripe_events.worker import run_once

    # Events about PaymentIntents that are not ours: handled without a call to Stripe.
    queue(app, *(event(number) for number in range(60)))
    handled = {}

    def drain(name: str) -> None:
        with app.app_context():
            handled[name] = 0
            while (counts := run_once(batch=7, worker_id=name)).claimed:
                handled[name] += counts.not_ours

    workers = [threading.Thread(target=drain, args=(f"worker-{n}",)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    with app.app_context():
        rows = db.session.execute(
            select(ProcessedWebhookEvent.outcome, ProcessedWebhookEvent.attempts)
        ).all()
    assert sum(handled.values()) == 60
    assert sorted(set(rows)) == [("not_ours", 1)] and len(rows) == 60


def test_the_operator_commands_show_the_queue_and_handle_it(app):
    """Proves: ``flask webhooks status`` shows what is queued (and since when) and what came
    of the rest; ``flask webhooks run-once`` handles what is due and says what happened."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["webhooks", "status"]).output == "no webhook events received\n"
    queue(app, event(1), event(2))

    waiting = runner.invoke(args=["webhooks", "status"])
    handled = runner.invoke(args=["webhooks", "run-once"])
    after = runner.invoke(args=["webhooks", "status"])

    assert waiting.exit_code == 0 and waiting.output.startswith("queued    2 (oldest received ")
    assert handled.output == "claimed 2, applied 0, not_ours 2, retrying 0, failed 0\n"
    assert after.output == "not_ours  2\n"
