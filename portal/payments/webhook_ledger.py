"""The ledger of Stripe webhook events already handled (``processed_webhook_events``).

Both event handlers (payments in ``portal.payments.webhooks``, refunds in
``portal.refunds.sync``) claim an event id here before acting on it, so each event is handled
once: the unique constraint on the event id decides, even between processes racing on the
same delivery.
"""

from __future__ import annotations

from sqlalchemy import update

from portal.extensions import db
from portal.models.payment import ProcessedWebhookEvent
from portal.models.types import utcnow
from portal.payments.facts import WebhookEvent
from portal.payments.inserts import insert_unless_present


def claim(event: WebhookEvent, outcome: str) -> bool:
    """INSERT the event id with ``outcome``; False if it was already there (and then the
    transaction is rolled back: a duplicate does nothing else). Joins the current transaction;
    the caller commits.

    The unique event id decides, in one round trip. If another transaction has claimed the same
    id but not finished, PostgreSQL makes this one wait for it, so a concurrent duplicate is
    told "already there" only once the first one committed (and gets the claim if the first
    one rolled back: Stripe's retry of an event that failed is handled afresh).
    """
    row = {
        "stripe_event_id": event.id,
        "event_type": event.type[:100],
        "outcome": outcome,
        "received_at": utcnow(),
    }
    claimed = insert_unless_present(
        ProcessedWebhookEvent, row, ProcessedWebhookEvent.stripe_event_id
    )
    if not claimed:
        db.session.rollback()
    return claimed


def set_outcome(event: WebhookEvent, outcome: str) -> None:
    """Record what handling a claimed event came to. Joins the current transaction."""
    db.session.execute(
        update(ProcessedWebhookEvent)
        .where(ProcessedWebhookEvent.stripe_event_id == event.id)
        .values(outcome=outcome)
    )
