"""The webhook worker: handle the Stripe events the endpoint has queued.

``run_once`` leases a batch of due events (``portal.stripe_events.inbox``) and handles each
in its own transaction: ``apply_event`` and the event's outcome commit together, so an event
is either handled and marked, or neither. When Stripe cannot be asked (a timeout, a 5xx, a
429), the event goes back to the queue with backoff; after ``WEBHOOK_MAX_ATTEMPTS`` it is
marked ``failed`` and logged, and ``flask payments reconcile`` (run by cron) repairs whatever
it would have told us.

Within one batch, a PaymentIntent is asked about once: an event about a PaymentIntent already
re-fetched and applied earlier in the same batch was received before that fetch, so the state
applied already includes whatever the event announced. It is marked applied without asking
Stripe again (a payment that succeeds sends payment_intent.succeeded and charge.succeeded
together). Refund and dispute events are about their own objects, each fetched by its own id.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from flask import current_app

from portal.extensions import db
from portal.models.types import utcnow
from portal.payments.facts import WebhookEvent
from portal.payments.gateway import ProviderRejected, ProviderUnavailable, StripeGateway
from portal.stripe_events import dispatch, inbox

log = logging.getLogger("postern.payments.webhook_worker")


@dataclass
class RunCounts:
    claimed: int = 0
    applied: int = 0
    not_ours: int = 0
    retrying: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _asks_about_intent(event: WebhookEvent) -> bool:
    return event.type not in dispatch.OWN_OBJECT_TYPES and event.payment_intent_id is not None


def run_once(
    *, batch: int | None = None, worker_id: str, gateway: StripeGateway | None = None
) -> RunCounts:
    """Lease due events and handle each once. Returns what happened to them."""
    config = current_app.config
    gateway = gateway or StripeGateway.for_app()
    leased = inbox.claim_due(utcnow(), batch or config["WEBHOOK_BATCH_SIZE"], worker_id)
    counts = RunCounts(claimed=len(leased))
    asked: set[str] = set()
    for held in leased:
        event = held.event
        if _asks_about_intent(event) and event.payment_intent_id in asked:
            inbox.finish(held.row_id, inbox.APPLIED, worker_id)
            db.session.commit()
            counts.applied += 1
            continue
        try:
            outcome = dispatch.apply_event(event, gateway=gateway)
        except (ProviderUnavailable, ProviderRejected) as problem:
            db.session.rollback()
            _retry_or_fail(held, worker_id, str(problem), counts)
            continue
        except Exception as problem:
            # A bug, or a database error: treated like an outage (backoff, then given up), so
            # an event that always fails is not tried forever. The stored error is the class
            # name only: a database error's text can quote the statement's parameters. With
            # the database gone, recording this raises too; the lease then lapses and the
            # event is tried again once the database is back.
            db.session.rollback()
            log.exception("webhook worker: event %s could not be handled", event.id)
            _retry_or_fail(held, worker_id, type(problem).__name__, counts)
            continue
        inbox.finish(held.row_id, outcome, worker_id)
        db.session.commit()
        if outcome == inbox.NOT_OURS:
            counts.not_ours += 1
            continue
        counts.applied += 1
        if _asks_about_intent(event):
            asked.add(event.payment_intent_id)
    return counts


def _retry_or_fail(held: inbox.Leased, worker_id: str, error: str, counts: RunCounts) -> None:
    """Back to the queue with backoff, or ``failed`` for good once every attempt is used.
    ``error`` is stored and logged: a short text with no request data."""
    event = held.event
    context = {"event_id": event.id, "event_type": event.type, "error": error}
    delay = inbox.INBOX.backoff(held.attempt)
    inbox.retry_later(held.row_id, worker_id, error, delay)
    if delay is None:
        counts.failed += 1
        log.error(
            "webhook given up after %s attempts; reconcile repairs what it would have told us",
            held.attempt,
            extra=context,
        )
    else:
        counts.retrying += 1
        log.warning(
            "webhook not handled yet; retrying in %.0f s", delay.total_seconds(), extra=context
        )
    db.session.commit()
