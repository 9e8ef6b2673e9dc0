"""The inbox of Stripe webhook events (``processed_webhook_events``): taken in once, handled
later, each by one worker.

Stripe asks for a quick 2xx and retries anything slower or failed, so the webhook endpoint
does the least that makes an event safe: verify it, then ``take_in`` (one INSERT). The webhook
worker (``portal.stripe_events.worker``) handles what is queued.

- **Once in.** The unique event id decides (``INSERT ... ON CONFLICT DO NOTHING``): a duplicate
  delivery, even one racing the first on another process, inserts nothing and is answered
  "duplicate". On PostgreSQL a racing INSERT waits for the first to commit or roll back.
- **Once handled.** The inbox is a lease-and-claim queue (``portal.leases``): a worker leases a
  batch of due rows with one conditional UPDATE, commits the lease, then handles them. If it
  dies, the lease lapses and another worker takes the event over; handling is idempotent
  (``apply_intent`` and the refund sync are monotonic), so a second try changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, and_, or_

from portal.extensions import db
from portal.leases import LeaseQueue
from portal.models.payment import ProcessedWebhookEvent
from portal.models.types import utcnow
from portal.observability.metrics import count_dispute_event
from portal.payments.facts import WebhookEvent
from portal.payments.inserts import insert_unless_present

QUEUED = "queued"
#: What a handled event came to (``outcome``), besides "queued".
APPLIED, IGNORED, NOT_OURS, FAILED = "applied", "ignored", "not_ours", "failed"


def take_in(event: WebhookEvent, *, queue: bool) -> bool:
    """Record a verified event: ``queued`` for the worker, or ``ignored`` at once (a type
    Postern does not act on). False if the event id was already recorded (and then the
    transaction is rolled back: a duplicate does nothing else). The caller commits.
    """
    now = utcnow()
    row = {
        "stripe_event_id": event.id,
        "event_type": event.type[:100],
        "outcome": QUEUED if queue else IGNORED,
        "received_at": now,
        "object_type": (event.object_type or "")[:32] or None,
        "object_id": event.object_id,
        "payment_intent_id": event.payment_intent_id,
        "request_public_id": event.request_public_id,
        "attempts": 0,
        "next_attempt_at": now if queue else None,
        "handled_at": None if queue else now,
    }
    taken = insert_unless_present(ProcessedWebhookEvent, row, ProcessedWebhookEvent.stripe_event_id)
    count_dispute_event(event.type)  # counted once this commits; a duplicate rolls back
    if not taken:
        db.session.rollback()
    return taken


@dataclass(frozen=True)
class Leased:
    """A queued event this worker now holds: its row, which attempt this is, the event."""

    row_id: int
    attempt: int
    event: WebhookEvent


def event_of(row: Row) -> WebhookEvent:
    """The event as the handlers know it, rebuilt from the ids its inbox row keeps."""
    return WebhookEvent(
        id=row.stripe_event_id,
        type=row.event_type,
        object_type=row.object_type,
        object_id=row.object_id,
        payment_intent_id=row.payment_intent_id,
        request_public_id=row.request_public_id,
    )


def _due(now: datetime):
    """Queued and due, or leased by a worker whose lease has lapsed."""
    return and_(
        ProcessedWebhookEvent.outcome == QUEUED,
        ProcessedWebhookEvent.next_attempt_at <= now,
        or_(
            ProcessedWebhookEvent.claimed_until.is_(None),
            ProcessedWebhookEvent.claimed_until < now,
        ),
    )


INBOX = LeaseQueue(
    ProcessedWebhookEvent,
    due=_due,
    lease_seconds_setting="WEBHOOK_LEASE_SECONDS",
    max_attempts_setting="WEBHOOK_MAX_ATTEMPTS",
    retry_base_setting="WEBHOOK_RETRY_BASE_SECONDS",
    retry_max_setting="WEBHOOK_RETRY_MAX_SECONDS",
)


def claim_due(now: datetime, batch: int, worker_id: str) -> list[Leased]:
    """Lease up to ``batch`` due events, oldest first, for ``worker_id``, and commit. Returns
    them in the order they were due."""
    leased = [
        Leased(row.id, row.attempts, event_of(row)) for row in INBOX.claim(now, batch, worker_id)
    ]
    db.session.commit()
    return leased


def finish(event_row_id: int, outcome: str, worker_id: str) -> None:
    """Record what handling came to, if this worker still holds the lease. Joins the current
    transaction (the one that applied the event): both commit together or not at all."""
    INBOX.release(
        event_row_id, held_by=worker_id, outcome=outcome, handled_at=utcnow(), next_attempt_at=None
    )


def retry_later(event_row_id: int, worker_id: str, error: str, delay: timedelta | None) -> None:
    """Give the lease back with the error: due again after ``delay``, or ``failed`` for good
    when ``delay`` is None. Joins the current transaction; the caller commits."""
    now = utcnow()
    values: dict = {"last_error": error[:200]}
    if delay is None:
        values.update(outcome=FAILED, handled_at=now, next_attempt_at=None)
    else:
        values.update(next_attempt_at=now + delay)
    INBOX.release(event_row_id, held_by=worker_id, **values)
