"""Stripe webhook events: taken in by the endpoint, applied by the webhook worker.

``receive`` is all the endpoint (``portal.webhooks.views``) does after verifying the signature:
record the event once in the inbox (``portal.stripe_events.inbox``) and answer. Stripe gets
its 2xx in one INSERT, whatever Stripe's API or our audit chain are doing.

``apply_event`` is what the worker (``portal.stripe_events.worker``) does with each queued
event. The event's own copy of the object is never acted on: the PaymentIntent is fetched again
from Stripe, so a late or out-of-order event can only ever apply the current truth, through the
same monotonic ``apply_intent`` every other path uses. The one exception: a payment of ours
that is already final (succeeded, canceled) can learn nothing more from Stripe
(``apply_intent`` would return at once), so its events are settled without asking.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager, joinedload

from portal import audit
from portal.disputes import sync as dispute_sync
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment
from portal.models.types import utcnow
from portal.payments.facts import METADATA_REQUEST, WebhookEvent
from portal.payments.gateway import StripeGateway
from portal.payments.sync import apply_intent
from portal.refunds import sync as refund_sync
from portal.stripe_events import inbox

log = logging.getLogger("postern.payments.webhooks")

#: Event types that may tell us something about a payment; anything else is ignored.
HANDLED_TYPES = frozenset(
    {
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.processing",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.amount_capturable_updated",
        "charge.succeeded",
        "charge.failed",
        "charge.captured",
    }
)

#: Event types about an object of their own (a refund, a dispute), handled whatever the
#: PaymentIntent they name: the object is fetched again by its own id.
OWN_OBJECT_TYPES = refund_sync.REFUND_EVENT_TYPES | dispute_sync.DISPUTE_EVENT_TYPES


def receive(event: WebhookEvent) -> str:
    """Take a verified event in, once: "queued" for the worker, "ignored" (a type we do not act
    on) or "duplicate" (already taken in; nothing else happens). COMMITS."""
    queue = event.type in OWN_OBJECT_TYPES or (
        event.type in HANDLED_TYPES and event.payment_intent_id is not None
    )
    if not inbox.take_in(event, queue=queue):
        return "duplicate"
    db.session.commit()
    return inbox.QUEUED if queue else inbox.IGNORED


def apply_event(event: WebhookEvent, *, gateway: StripeGateway) -> str:
    """Act on one queued event: "applied" or "not_ours" (no payment or refund of ours).

    Raises the gateway's ProviderUnavailable / ProviderRejected when Stripe cannot be asked;
    the caller rolls back and tries again later. Joins the current transaction; the caller
    records the outcome and commits, so the change and "handled" land together.
    """
    # Refund events (refund.*, charge.refund.updated, charge.refunded) belong to
    # portal.refunds and dispute events (charge.dispute.*) to portal.disputes: each re-fetches
    # its object from Stripe the same way.
    if event.type in refund_sync.REFUND_EVENT_TYPES:
        return refund_sync.apply_refund_event(event, gateway=gateway)
    if event.type in dispute_sync.DISPUTE_EVENT_TYPES:
        return dispute_sync.apply_dispute_event(event, gateway=gateway)
    payment = _payment_for(event)
    if payment is None:
        log.info(
            "webhook for a payment that is not ours",
            extra={"event_id": event.id, "event_type": event.type},
        )
        return "not_ours"
    if payment.is_final and payment.stripe_payment_intent_id == event.payment_intent_id:
        # Stripe's current state could not change a finished payment: do not ask for it.
        log.debug(  # the inbox row already says it arrived and what came of it
            "webhook for a finished payment",
            extra={
                "event_id": event.id,
                "event_type": event.type,
                "payment_status": payment.status,
            },
        )
        return "applied"
    facts = gateway.retrieve_payment_intent(event.payment_intent_id)
    if payment.stripe_payment_intent_id is None:
        if facts.metadata.get(METADATA_REQUEST) != payment.capture_request.public_id:
            return "not_ours"
        _link(payment, facts.id)
    outcome = apply_intent(payment, facts, gateway=gateway, actor=audit.STRIPE_WEBHOOK)
    log.info(
        "webhook applied",
        extra={
            "event_id": event.id,
            "event_type": event.type,
            "payment_intent": facts.id,
            "intent_status": facts.status,
            "changed": outcome.changed,
        },
    )
    return "applied"


def _payment_for(event: WebhookEvent) -> Payment | None:
    """Our payment for the event's PaymentIntent, with its request (one query each way): by its
    id, or (if we never learned the id, because Stripe's answer to our create call was lost) by
    the request id in its metadata."""
    payment = db.session.execute(
        select(Payment)
        .options(joinedload(Payment.capture_request, innerjoin=True))
        .where(Payment.stripe_payment_intent_id == event.payment_intent_id)
    ).scalar_one_or_none()
    if payment is not None or not event.request_public_id:
        return payment
    return db.session.execute(
        select(Payment)
        .join(CaptureRequest, CaptureRequest.id == Payment.capture_request_id)
        .options(contains_eager(Payment.capture_request))
        .where(
            CaptureRequest.public_id == event.request_public_id,
            Payment.stripe_payment_intent_id.is_(None),
        )
    ).scalar_one_or_none()


def _link(payment: Payment, intent_id: str) -> None:
    db.session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.stripe_payment_intent_id.is_(None))
        .values(stripe_payment_intent_id=intent_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.expire(payment)
