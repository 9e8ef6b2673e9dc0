"""Bring our refund rows in line with what Stripe says: after our own call, on the retry
button, from webhooks (``refund.created``, ``refund.updated``, ``refund.failed``,
``charge.refund.updated``, ``charge.refunded``) and from ``flask payments reconcile``.

``apply_facts`` is the one function every path uses. It is idempotent and monotonic: every
write is a conditional UPDATE naming the statuses it may move from, so a late or repeated
event never moves a refund backwards, and a failed or canceled one never changes again.
Webhook events are taken in once each and handled by the webhook worker
(``portal.stripe_events.inbox``), and the refund is always re-fetched from Stripe rather than
trusted from the event body.

A succeeded refund can still fail at Stripe (the card was closed or expired and the bank sent
the money back: ``failure_reason`` ``expired_or_canceled_card``, ``lost_or_stolen_card``, ...).
Stripe's truth wins: the row becomes ``failed``, audited ``refund.failed`` with
``after_success``; it no longer counts as refunded (``portal.refunds.queries``), so the amount
is refundable again and the back office offers "Try again" (a new refund, same rules).
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from portal import audit
from portal.audit import Actor
from portal.delivery.receipts import queue_refund_notice
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment
from portal.models.refund import Refund, RefundStatus
from portal.models.types import utcnow
from portal.payments.facts import RefundFacts, WebhookEvent
from portal.payments.gateway import StripeGateway

log = logging.getLogger("postern.refunds")

#: The Stripe events that tell us about refunds (``portal.stripe_events.dispatch`` hands them here).
#: Stripe sends ``refund.*`` for card refunds only to endpoints on API version 2024-10-28 or
#: later; ``charge.refund.updated`` reaches every version, so both are handled.
REFUND_EVENT_TYPES = frozenset(
    {
        "refund.created",
        "refund.updated",
        "refund.failed",
        "charge.refund.updated",
        "charge.refunded",
    }
)

R = RefundStatus
#: target status -> the statuses it may be reached from.
_MOVES = {
    R.PENDING: {R.REQUESTED, R.REQUIRES_ACTION},
    R.REQUIRES_ACTION: {R.REQUESTED, R.PENDING},
    R.SUCCEEDED: {R.REQUESTED, R.PENDING, R.REQUIRES_ACTION},
    R.FAILED: {R.REQUESTED, R.PENDING, R.REQUIRES_ACTION, R.SUCCEEDED},
    R.CANCELLED: {R.REQUESTED, R.PENDING, R.REQUIRES_ACTION},
}
#: Stripe's answers that end a refund, one way or the other.
_COMPLETED = frozenset({R.SUCCEEDED, R.FAILED, R.CANCELLED})


def request_of(refund: Refund) -> CaptureRequest:
    """The capture request ``refund`` belongs to: what its audit rows are recorded against."""
    return refund.payment.capture_request


def apply_facts(refund: Refund, facts: RefundFacts, *, actor: Actor) -> bool:
    """Record what Stripe says about ``refund``: its Stripe id (once) and its status.

    Returns True if the status changed. Audits refund.submitted (when Stripe's id is first
    learned), refund.pending, refund.requires_action, refund.succeeded, refund.failed (also for
    "canceled"). Joins the current transaction; caller commits.
    """
    before = refund.status
    now = utcnow()
    linked = db.session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.stripe_refund_id.is_(None))
        .values(stripe_refund_id=facts.id, submitted_at=now, last_error_code=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if linked:
        audit.record_for(
            request_of(refund),
            "refund.submitted",
            actor,
            details={
                "refund_id": refund.id,
                "stripe_refund": facts.id,
                "amount_minor": facts.amount,
                "currency": facts.currency,
            },
        )
    sources = _MOVES.get(facts.status)
    moved = 0
    if sources:
        values = {"status": facts.status, "updated_at": now, "last_error_code": None}
        if facts.status in _COMPLETED:
            values["completed_at"] = now
        if facts.status in (R.FAILED, R.CANCELLED):
            values["failure_code"] = (facts.failure_reason or facts.status)[:64]
        moved = db.session.execute(
            update(Refund)
            .where(Refund.id == refund.id, Refund.status.in_(sources))
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    db.session.expire(refund)
    if moved and facts.status in (R.PENDING, R.REQUIRES_ACTION):
        audit.record_for(
            request_of(refund),
            f"refund.{facts.status}",
            actor,
            details={"refund_id": refund.id, "stripe_refund": facts.id, "status": facts.status},
        )
    if moved and facts.status in _COMPLETED:
        action = "refund.succeeded" if facts.status == R.SUCCEEDED else "refund.failed"
        audit.record_for(
            request_of(refund),
            action,
            actor,
            outcome="success" if facts.status == R.SUCCEEDED else "failure",
            details={
                "refund_id": refund.id,
                "stripe_refund": facts.id,
                "amount_minor": facts.amount,
                "status": facts.status,
                "failure_reason": facts.failure_reason,
                # Stripe first said it succeeded: the money went back to us after all.
                "after_success": before == R.SUCCEEDED or None,
            },
        )
        queue_refund_notice(refund, actor)  # only if succeeded; once, by its unique key
    return bool(moved)


def _ours(facts: RefundFacts) -> Refund | None:
    """Our refund row for Stripe's refund: by its id, or (if our call's answer was lost and we
    never learned the id) by the row id in its metadata, checked against the PaymentIntent."""
    refund = db.session.execute(
        select(Refund).where(Refund.stripe_refund_id == facts.id)
    ).scalar_one_or_none()
    if refund is not None or facts.our_refund_id is None:
        return refund
    refund = db.session.get(Refund, facts.our_refund_id)
    if refund is None or refund.stripe_refund_id is not None:
        return None
    if refund.payment.stripe_payment_intent_id != facts.payment_intent_id:
        return None
    return refund


def apply_refund_event(event: WebhookEvent, *, gateway: StripeGateway) -> str:
    """Act on one queued refund-related event: "applied" or "not_ours".

    Raises the gateway's errors when Stripe cannot be asked (the worker rolls back and tries
    again later). Joins the current transaction; the worker records the outcome and commits.
    """
    if event.object_type == "refund" and event.object_id:
        found = [gateway.retrieve_refund(event.object_id)]
    elif event.payment_intent_id:
        known = db.session.execute(
            select(Payment.id).where(Payment.stripe_payment_intent_id == event.payment_intent_id)
        ).first()
        found = gateway.refunds_for_intent(event.payment_intent_id) if known else []
    else:
        found = []
    applied = 0
    for facts in found:
        refund = _ours(facts)
        if refund is not None:
            apply_facts(refund, facts, actor=audit.STRIPE_WEBHOOK)
            applied += 1
    log.info(
        "refund webhook handled",
        extra={"event_id": event.id, "event_type": event.type, "refunds": applied},
    )
    return "applied" if applied else "not_ours"
