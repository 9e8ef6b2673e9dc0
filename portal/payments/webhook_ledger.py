"""The ledger of Stripe webhook events already handled (``processed_webhook_events``).

Both event handlers (payments in ``portal.payments.webhooks``, refunds in
``portal.refunds.sync``) claim an event id here before acting on it, so each event is handled
once: the unique constraint on the event id decides, even between processes racing on the
same delivery.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models.payment import ProcessedWebhookEvent
from portal.models.types import utcnow
from portal.payments.facts import WebhookEvent


def claim(event: WebhookEvent, outcome: str) -> bool:
    """INSERT the event id with ``outcome``; False if it was already there. Joins the current
    transaction (in a savepoint); the caller commits."""
    try:
        with db.session.begin_nested():
            db.session.add(
                ProcessedWebhookEvent(
                    stripe_event_id=event.id,
                    event_type=event.type[:100],
                    outcome=outcome,
                    received_at=utcnow(),
                )
            )
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def set_outcome(event: WebhookEvent, outcome: str) -> None:
    """Record what handling a claimed event came to. Joins the current transaction."""
    db.session.execute(
        update(ProcessedWebhookEvent)
        .where(ProcessedWebhookEvent.stripe_event_id == event.id)
        .values(outcome=outcome)
    )
