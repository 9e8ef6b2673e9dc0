"""Bring our dispute rows in line with what Stripe says: from ``charge.dispute.*`` webhooks and
from ``flask payments reconcile``.

``apply_dispute`` is the one function both paths use, always with a dispute fetched again from
Stripe (never the event's own copy), so a late or repeated event can only apply the current
truth. It is idempotent and monotonic:

- the first sight of a dispute inserts its row (``INSERT ... ON CONFLICT DO NOTHING`` on the
  Stripe id), so two workers seeing it at once make one row and one "opened" audit entry;
- later changes are conditional UPDATEs guarded by the values read just before, so two workers
  applying the same truth audit it once;
- a closed dispute (won, lost, inquiry closed) never reopens, and the money withdrawn or
  reinstated only ever grows.

Every change is audited against the payment's capture request: ``dispute.opened``,
``dispute.updated``, ``dispute.closed``, ``dispute.funds_withdrawn``,
``dispute.funds_reinstated``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select, update

from portal import audit
from portal.audit import Actor
from portal.extensions import db
from portal.models.dispute import CLOSED_DISPUTE_STATUSES, KNOWN_DISPUTE_STATUSES, Dispute
from portal.models.payment import Payment
from portal.models.types import utcnow
from portal.payments.facts import DisputeFacts, WebhookEvent
from portal.payments.gateway import StripeGateway
from portal.payments.inserts import insert_unless_present

log = logging.getLogger("postern.disputes")

#: The Stripe events that tell us about disputes (``portal.stripe_events.dispatch`` hands them
#: here). Each carries the dispute; it is fetched again before anything is written.
DISPUTE_EVENT_TYPES = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)

#: How often a guarded UPDATE is tried again after another process changed the row first.
_ATTEMPTS = 3


def _due_by(facts: DisputeFacts) -> datetime | None:
    if facts.evidence_due_by is None:
        return None
    return datetime.fromtimestamp(facts.evidence_due_by, UTC)


def _payment_of(facts: DisputeFacts) -> Payment | None:
    """Our payment for the dispute: by its PaymentIntent, else by the charge disputed."""
    if facts.payment_intent_id:
        payment = db.session.execute(
            select(Payment).where(Payment.stripe_payment_intent_id == facts.payment_intent_id)
        ).scalar_one_or_none()
        if payment is not None:
            return payment
    if facts.charge_id:
        return db.session.execute(
            select(Payment).where(Payment.latest_charge_id == facts.charge_id)
        ).scalar_one_or_none()
    return None


def _details(facts: DisputeFacts, **extra) -> dict:
    due_by = _due_by(facts)
    return {
        "stripe_dispute": facts.id,
        "dispute_reason": facts.reason,
        "dispute_status": facts.status,
        "amount_minor": facts.amount,
        "currency": facts.currency,
        "evidence_due_by": due_by.isoformat() if due_by else None,
        **extra,
    }


def apply_dispute(facts: DisputeFacts, *, actor: Actor) -> bool | None:
    """Record what Stripe says about a dispute, as ``actor``.

    Returns None if the dispute is not about a payment of ours, else whether anything changed.
    Joins the current transaction; the caller commits.
    """
    payment = _payment_of(facts)
    if payment is None:
        return None
    if facts.status not in KNOWN_DISPUTE_STATUSES:
        # Stored as Stripe sent it, and read everywhere as an open chargeback (the model's
        # rule) until its meaning is added to ``portal.models.dispute``: say so to operators.
        log.warning(
            "dispute status not known to Postern; treated as an open chargeback",
            extra={"stripe_dispute": facts.id, "dispute_status": facts.status},
        )
    request = payment.capture_request
    now = utcnow()
    inserted = insert_unless_present(
        Dispute,
        {
            "payment_id": payment.id,
            "stripe_dispute_id": facts.id,
            "stripe_charge_id": facts.charge_id,
            "amount_minor": facts.amount,
            "currency": facts.currency,
            "reason": facts.reason[:40],
            "status": facts.status,
            "evidence_due_by": _due_by(facts),
            "funds_withdrawn_minor": 0,
            "funds_reinstated_minor": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": now if facts.status in CLOSED_DISPUTE_STATUSES else None,
        },
        Dispute.stripe_dispute_id,
    )
    if inserted:
        audit.record_for(request, "dispute.opened", actor, details=_details(facts))
    changed = _move(facts, request, actor, opened_now=inserted)
    if inserted and facts.status in CLOSED_DISPUTE_STATUSES:
        # First seen already over (every event before it was lost): opened and closed at once.
        audit.record_for(
            request, "dispute.closed", actor, details=_details(facts, outcome=facts.status)
        )
    return bool(inserted or changed)


def _move(facts: DisputeFacts, request, actor: Actor, *, opened_now: bool) -> bool:
    """The guarded UPDATE from the row as read to Stripe's truth, tried again if another
    process changed the row in between. Audits what moved. Returns whether anything did."""
    for _ in range(_ATTEMPTS):
        row = db.session.execute(
            select(
                Dispute.id,
                Dispute.status,
                Dispute.evidence_due_by,
                Dispute.funds_withdrawn_minor,
                Dispute.funds_reinstated_minor,
            ).where(Dispute.stripe_dispute_id == facts.id)
        ).one()
        closed_before = row.status in CLOSED_DISPUTE_STATUSES
        # A closed dispute keeps its ending; an open one takes Stripe's status and deadline.
        status = row.status if closed_before else facts.status
        due_by = row.evidence_due_by if closed_before else _due_by(facts)
        withdrawn = max(row.funds_withdrawn_minor, facts.funds_withdrawn)
        reinstated = max(row.funds_reinstated_minor, facts.funds_reinstated)
        if (status, due_by, withdrawn, reinstated) == (
            row.status,
            row.evidence_due_by,
            row.funds_withdrawn_minor,
            row.funds_reinstated_minor,
        ):
            return False
        now = utcnow()
        values = {
            "status": status,
            "evidence_due_by": due_by,
            "funds_withdrawn_minor": withdrawn,
            "funds_reinstated_minor": reinstated,
            "updated_at": now,
        }
        closing = status in CLOSED_DISPUTE_STATUSES and not closed_before
        if closing:
            values["closed_at"] = now
        moved = db.session.execute(
            update(Dispute)
            .where(
                Dispute.id == row.id,
                Dispute.status == row.status,
                Dispute.funds_withdrawn_minor == row.funds_withdrawn_minor,
                Dispute.funds_reinstated_minor == row.funds_reinstated_minor,
                Dispute.evidence_due_by.is_(None)
                if row.evidence_due_by is None
                else Dispute.evidence_due_by == row.evidence_due_by,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            continue
        _audit_moves(facts, request, actor, row, values, opened_now=opened_now)
        return True
    log.warning("dispute changed by others throughout; left for the next event or reconcile")
    return False


def _audit_moves(facts, request, actor, row, values, *, opened_now: bool) -> None:
    if values["funds_withdrawn_minor"] > row.funds_withdrawn_minor:
        audit.record_for(
            request,
            "dispute.funds_withdrawn",
            actor,
            details={
                "stripe_dispute": facts.id,
                "amount_minor": values["funds_withdrawn_minor"] - row.funds_withdrawn_minor,
                "currency": facts.currency,
            },
        )
    if values["funds_reinstated_minor"] > row.funds_reinstated_minor:
        audit.record_for(
            request,
            "dispute.funds_reinstated",
            actor,
            details={
                "stripe_dispute": facts.id,
                "amount_minor": values["funds_reinstated_minor"] - row.funds_reinstated_minor,
                "currency": facts.currency,
            },
        )
    status_moved = values["status"] != row.status
    if values["status"] in CLOSED_DISPUTE_STATUSES and status_moved:
        audit.record_for(
            request, "dispute.closed", actor, details=_details(facts, outcome=values["status"])
        )
    elif not opened_now and (status_moved or values["evidence_due_by"] != row.evidence_due_by):
        audit.record_for(request, "dispute.updated", actor, details=_details(facts))


def apply_dispute_event(event: WebhookEvent, *, gateway: StripeGateway) -> str:
    """Act on one queued ``charge.dispute.*`` event: "applied" or "not_ours".

    Raises the gateway's errors when Stripe cannot be asked (the worker rolls back and tries
    again later). Joins the current transaction; the worker records the outcome and commits.
    """
    if event.object_type != "dispute" or not event.object_id:
        return "not_ours"
    facts = gateway.retrieve_dispute(event.object_id)
    changed = apply_dispute(facts, actor=audit.STRIPE_WEBHOOK)
    log.info(
        "dispute webhook handled",
        extra={
            "event_id": event.id,
            "event_type": event.type,
            "dispute_status": facts.status,
            "changed": bool(changed),
        },
    )
    return "not_ours" if changed is None else "applied"
