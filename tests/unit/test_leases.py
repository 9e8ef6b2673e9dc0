"""portal.leases: a lease-and-claim queue, shown on the webhook inbox's table (the delivery
outbox is the same queue over its own table: tests/unit/delivery/test_worker.py)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models.payment import ProcessedWebhookEvent
from portal.models.types import utcnow
from portal.payments.facts import WebhookEvent
from portal.stripe_events import inbox

#: The inbox's queue, setting one more column when it claims, to show that it can.
QUEUE = dataclasses.replace(
    inbox.INBOX, claimed_values=lambda now: {"last_error": f"claimed at {now:%H:%M:%S}"}
)


@pytest.fixture
def queued(app):
    """Three queued rows, due one second apart, the newest inserted first; their ids, oldest
    first."""
    now = utcnow()
    with app.app_context():
        for number in (3, 2, 1):
            event = WebhookEvent(
                id=f"evt_lease_{number}", type="payment_intent.succeeded", object_type=None,
                object_id=None, payment_intent_id=None,
            )  # fmt: skip
            assert inbox.take_in(event, queue=True)
            db.session.execute(
                update(ProcessedWebhookEvent)
                .where(ProcessedWebhookEvent.stripe_event_id == event.id)
                .values(next_attempt_at=now - timedelta(seconds=10 - number))
            )
        db.session.commit()
        return db.session.scalars(
            select(ProcessedWebhookEvent.id).order_by(ProcessedWebhookEvent.next_attempt_at)
        ).all()


def test_a_claim_leases_the_oldest_due_rows_once_until_the_lease_lapses(app, queued):
    """Proves: a claim leases up to a batch of due rows, oldest first, counting the attempt and
    setting the queue's own columns; a held row is not due for anyone else until its lease
    lapses, and is then claimed again as the next attempt."""
    with app.app_context():
        now = utcnow()
        first = QUEUE.claim(now, 2, "worker-a")
        db.session.commit()
        rest = QUEUE.claim(now, 10, "worker-b")
        db.session.commit()
        later = now + timedelta(seconds=app.config["WEBHOOK_LEASE_SECONDS"] + 1)
        taken_over = QUEUE.claim(later, 10, "worker-c")

    assert [row.id for row in first] == queued[:2]
    assert [row.id for row in rest] == queued[2:]
    assert {(row.claimed_by, row.attempts) for row in first} == {("worker-a", 1)}
    assert first[0].claimed_until == now + timedelta(seconds=app.config["WEBHOOK_LEASE_SECONDS"])
    assert first[0].last_error == f"claimed at {now:%H:%M:%S}"
    assert [(row.id, row.attempts) for row in taken_over] == [(id_, 2) for id_ in queued]


def test_a_worker_takes_back_what_it_still_holds_at_once_and_no_one_else_does(app, queued):
    """Proves: rows a worker still holds (a batch the database cut short) are claimed again by
    that same worker at its next poll, as the next attempt, without waiting out the lease; any
    other worker still finds them held."""
    with app.app_context():
        now = utcnow()
        held = QUEUE.claim(now, 2, "worker-a")
        db.session.commit()
        by_another = QUEUE.claim(now, 10, "worker-b")
        db.session.commit()
        by_itself = QUEUE.claim(now + timedelta(seconds=1), 10, "worker-a")

    assert [row.id for row in by_another] == queued[2:]
    assert [row.id for row in by_itself] == [row.id for row in held]
    assert [row.attempts for row in by_itself] == [2, 2]


def test_only_the_holder_releases_unless_the_result_must_be_kept_whoever_holds_it(app, queued):
    """Proves: ``release`` writes and clears the lease only for the worker holding the row, and
    only where its extra conditions hold; ``held_by=None`` releases it whoever holds it."""
    with app.app_context():
        QUEUE.claim(utcnow(), 1, "worker-a")
        row_id = queued[0]
        assert QUEUE.release(row_id, held_by="worker-b", outcome="applied") == 0
        refused = ProcessedWebhookEvent.outcome == "failed"
        assert QUEUE.release(row_id, held_by="worker-a", where=[refused], outcome="x") == 0
        assert QUEUE.release(row_id, held_by=None, outcome="applied") == 1
        db.session.commit()
        row = db.session.get(ProcessedWebhookEvent, row_id)

        assert (row.outcome, row.claimed_by, row.claimed_until) == ("applied", None, None)


def test_backoff_grows_then_stops_at_the_last_attempt(app):
    """Proves: the wait before the next attempt doubles from the configured base (with up to a
    quarter more), and there is none after the last attempt allowed."""
    with app.app_context():
        base = app.config["WEBHOOK_RETRY_BASE_SECONDS"]
        last = app.config["WEBHOOK_MAX_ATTEMPTS"]
        first, second = QUEUE.backoff(1), QUEUE.backoff(2)

        assert base <= first.total_seconds() <= base * 1.25
        assert 2 * base <= second.total_seconds() <= 2 * base * 1.25
        assert QUEUE.backoff(last - 1) is not None
        assert QUEUE.backoff(last) is None
