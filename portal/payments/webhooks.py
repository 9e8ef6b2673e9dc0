"""Handling verified Stripe webhook events (the HTTP side is ``portal.webhooks.views``).

Each event id is handled once: the handler first INSERTs the id into
``processed_webhook_events`` (``INSERT ... ON CONFLICT DO NOTHING``) and relies on its unique
constraint, so a duplicate delivery, even one racing the first on another process, inserts
nothing, is answered "duplicate" and does nothing else (Stripe is not asked). The
event's own copy of the object is never acted on: the PaymentIntent is fetched again from
Stripe, so a late or out-of-order event can only ever apply the current truth, through the
same monotonic ``apply_intent`` every other path uses. The one exception: a payment of ours
that is already final (succeeded, canceled) can learn nothing more from Stripe
(``apply_intent`` would return at once), so its events are acknowledged without asking.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager, joinedload

from portal.audit.service import Actor
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment
from portal.models.types import utcnow
from portal.payments import webhook_ledger
from portal.payments.facts import METADATA_REQUEST, WebhookEvent
from portal.payments.gateway import StripeGateway
from portal.payments.sync import apply_intent
from portal.refunds import sync as refund_sync

log = logging.getLogger("postern.payments.webhooks")
WEBHOOK_ACTOR = Actor("stripe-webhook")

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


def handle_event(event: WebhookEvent, *, gateway: StripeGateway) -> str:
    """Handle one verified event, exactly once. Returns what happened: "duplicate",
    "ignored" (a type we do not act on), "not_ours" (no payment of ours) or "applied".

    Raises the gateway's ProviderUnavailable when Stripe cannot be asked; the caller rolls
    back (which also forgets the event id) and answers with an error so Stripe retries.
    COMMITS on success.
    """
    # Refund events (refund.created/updated, charge.refunded) belong to portal.refunds, which
    # claims the event id the same way and re-fetches the refund from Stripe.
    if event.type in refund_sync.REFUND_EVENT_TYPES:
        return refund_sync.handle_refund_event(event, gateway=gateway)
    handled = event.type in HANDLED_TYPES and event.payment_intent_id is not None
    if not webhook_ledger.claim(event, "applied" if handled else "ignored"):
        return "duplicate"
    if not handled:
        db.session.commit()
        log.info("webhook ignored", extra={"event_id": event.id, "event_type": event.type})
        return "ignored"
    payment = _payment_for(event)
    if payment is None:
        webhook_ledger.set_outcome(event, "not_ours")
        db.session.commit()
        log.info(
            "webhook for a payment that is not ours",
            extra={"event_id": event.id, "event_type": event.type},
        )
        return "not_ours"
    if payment.is_final and payment.stripe_payment_intent_id == event.payment_intent_id:
        # Stripe's current state could not change a finished payment: do not ask for it.
        status = payment.status  # read before the commit expires it (no SELECT after)
        db.session.commit()
        log.debug(  # the ledger row and the access log already say it arrived
            "webhook for a finished payment",
            extra={"event_id": event.id, "event_type": event.type, "payment_status": status},
        )
        return "applied"
    facts = gateway.retrieve_payment_intent(event.payment_intent_id)
    if payment.stripe_payment_intent_id is None:
        if facts.metadata.get(METADATA_REQUEST) != payment.capture_request.public_id:
            webhook_ledger.set_outcome(event, "not_ours")
            db.session.commit()
            return "not_ours"
        _link(payment, facts.id)
    outcome = apply_intent(payment, facts, gateway=gateway, actor=WEBHOOK_ACTOR)
    db.session.commit()
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
