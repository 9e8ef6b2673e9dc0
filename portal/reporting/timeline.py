"""Everything that happened to one capture request, in order: who did what and when.

Merges the audit trail (rows whose target is the request: its life, its messages, its payment,
refunds, reveals) with the records the domain keeps of each try: delivery attempts, card
attempts (with decline codes) and refunds. Holds nothing captured from the customer and no card
number: cards appear as brand and last four digits only.

Stripe webhook events about the payment's PaymentIntent (its refunds and disputes included)
appear as received (type, and what the webhook worker made of them); what a webhook changed
appears through the audit rows it wrote, whose actor is ``stripe-webhook``. Disputes appear as
opened / updated / closed (won or lost) with the reason in words, the amount and when the
evidence is due, in the contact centre's time (``DELIVERY_TIMEZONE``, UK time by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from portal.audit.trail import in_order, trail
from portal.disputes import wording as dispute_words
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from portal.models.payment import Payment, PaymentAttempt, ProcessedWebhookEvent
from portal.models.refund import Refund, RefundStatus
from portal.money import format_amount
from portal.payments.staff_words import (
    THREE_D_SECURE_WORDS,
    attempt_outcome_words,
    decline_words,
)
from portal.refunds import wording as refund_words
from portal.reporting.queries import card_label
from portal.reporting.timeline_words import (
    WEBHOOK_OUTCOME_WORDS,
    action_words,
    detail_words,
    webhook_event_words,
)

AUDIT, DELIVERY, CARD, REFUND = "Audit trail", "Delivery attempt", "Card attempt", "Refund"
WEBHOOK = "Stripe event"
#: How a refund ended, as the timeline says it.
_ENDED = {
    RefundStatus.SUCCEEDED: ": refunded",
    RefundStatus.FAILED: " failed: no money went back",
    RefundStatus.CANCELLED: " cancelled: no money went back",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    source: str
    actor: str
    what: str
    outcome: str = "success"
    details: list[str] = field(default_factory=list)


def _actor(event) -> str:
    if event.actor_label == "stripe-webhook":
        return "Stripe (webhook)"
    return f"{event.actor_label} ({event.actor_role})" if event.actor_role else event.actor_label


def _audit_entries(request: CaptureRequest) -> list[Entry]:
    rows = trail()  # sealed and pending rows: what happened a moment ago shows at once
    events = db.session.execute(
        select(rows)
        .where(rows.c.target_type == "capture_request", rows.c.target_id == request.public_id)
        .order_by(*in_order(rows))
    )
    entries = []
    for event in events:
        if event.action.startswith("dispute."):
            what, lines = dispute_words.audit_words(
                event.action,
                event.details,
                action_words(event.action),
                dispute_words.display_zone(),
            )
        else:
            what = action_words(event.action, event.outcome, event.details)
            lines = detail_words(event.details)
        entries.append(Entry(event.occurred_at, AUDIT, _actor(event), what, event.outcome, lines))
    return entries


def _delivery_entries(request: CaptureRequest) -> list[Entry]:
    rows = db.session.execute(
        select(DeliveryAttempt, DeliveryMessage)
        .join(DeliveryMessage, DeliveryMessage.id == DeliveryAttempt.message_id)
        .where(DeliveryMessage.capture_request_id == request.id)
        .order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)
    ).all()
    entries = []
    for attempt, message in rows:
        outcome = attempt.outcome or "in flight"
        what = (
            f"{message.channel.upper()} to {message.destination_masked}: "
            f"attempt {attempt.attempt_number} {outcome}"
        )
        details = [f"error: {attempt.error_code}"] if attempt.error_code else []
        entries.append(
            Entry(
                attempt.started_at,
                DELIVERY,
                f"outbox worker ({message.backend})",
                what,
                "failure" if attempt.outcome == "failed" else "success",
                details,
            )
        )
    return entries


def _card_entries(payment: Payment | None) -> list[Entry]:
    if payment is None:
        return []
    attempts = db.session.execute(
        select(PaymentAttempt)
        .where(PaymentAttempt.payment_id == payment.id)
        .order_by(PaymentAttempt.created_at, PaymentAttempt.id)
    ).scalars()
    entries = []
    for attempt in attempts:
        card = card_label(attempt.card_brand, attempt.card_last4) or "card"
        details = []
        if attempt.failure_code or attempt.decline_code:
            details.append(f"why: {decline_words(attempt.failure_code, attempt.decline_code)}")
        if attempt.three_d_secure:
            secure = THREE_D_SECURE_WORDS.get(attempt.three_d_secure, attempt.three_d_secure)
            details.append(f"3-D Secure: {secure}")
        entries.append(
            Entry(
                attempt.created_at,
                CARD,
                "customer",
                f"{card}: {attempt_outcome_words(attempt.outcome)}",
                "success" if attempt.outcome == "succeeded" else "failure",
                details,
            )
        )
    return entries


def _webhook_entries(payment: Payment | None) -> list[Entry]:
    if payment is None or payment.stripe_payment_intent_id is None:
        return []
    events = db.session.execute(
        select(ProcessedWebhookEvent)
        .where(ProcessedWebhookEvent.payment_intent_id == payment.stripe_payment_intent_id)
        .order_by(ProcessedWebhookEvent.received_at, ProcessedWebhookEvent.id)
    ).scalars()
    return [
        Entry(
            event.received_at,
            WEBHOOK,
            "Stripe (webhook)",
            f"{webhook_event_words(event.event_type)} ("
            + WEBHOOK_OUTCOME_WORDS.get(event.outcome, event.outcome)
            + ")",
            "failure" if event.outcome == "failed" else "success",
            [f"attempts: {event.attempts}"] if event.attempts > 1 else [],
        )
        for event in events
    ]


def refunds_of(payment: Payment | None) -> list[Refund]:
    if payment is None:
        return []
    return list(
        db.session.execute(
            select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id)
        ).scalars()
    )


def _refund_entries(refunds: list[Refund]) -> list[Entry]:
    entries = []
    for refund in refunds:
        amount = format_amount(refund.amount_minor, refund.currency)
        requester = refund.requested_by.username
        entries.append(
            Entry(
                refund.created_at,
                REFUND,
                requester,
                f"Refund of {amount} asked for"
                + (f" (trying refund {refund.retry_of_id} again)" if refund.retry_of_id else ""),
                details=[
                    f"reason: {refund_words.reason_words(refund.reason_code)}",
                    f"status now: {refund_words.status_words(refund.status)}",
                ],
            )
        )
        if refund.decided_at and refund.decided_by:
            verdict = "rejected" if refund.status == RefundStatus.REJECTED else "approved"
            entries.append(
                Entry(
                    refund.decided_at,
                    REFUND,
                    refund.decided_by.username,
                    f"Refund of {amount} {verdict}",
                )
            )
        if refund.completed_at:
            failed = refund.status in (RefundStatus.FAILED, RefundStatus.CANCELLED)
            details = (
                [f"why: {refund_words.failure_words(refund.failure_code)}"]
                if refund.failure_code
                else []
            )
            entries.append(
                Entry(
                    refund.completed_at,
                    REFUND,
                    "Stripe",
                    f"Refund of {amount}{_ENDED.get(refund.status, ': ' + refund.status)}",
                    "failure" if failed else "success",
                    details,
                )
            )
    return entries


def timeline(
    request: CaptureRequest, payment: Payment | None, refunds: list[Refund]
) -> list[Entry]:
    """All entries, oldest first (ties keep the audit trail's own order)."""
    entries = (
        _audit_entries(request)
        + _delivery_entries(request)
        + _card_entries(payment)
        + _webhook_entries(payment)
        + _refund_entries(refunds)
    )
    return sorted(entries, key=lambda entry: entry.at)
