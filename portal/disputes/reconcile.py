"""Reconcile disputes (one step of ``flask payments reconcile``): fetch every open dispute
again, and ask Stripe for the disputes of recent payments, so a dispute whose events were all
lost is found. Applied through the same monotonic ``sync.apply_dispute`` as webhooks.

How far back to look is ``ReconcileOptions.dispute_lookback_days`` (``--dispute-days``, 7 by
default): one call to Stripe per payment made in that time. Banks open disputes up to about
120 days after a payment, so a weekly run with ``--dispute-days 120`` catches the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import select

from portal.audit import Actor
from portal.disputes import sync
from portal.extensions import db
from portal.models.dispute import Dispute, open_status_sql
from portal.models.payment import Payment, PaymentStatus
from portal.models.types import utcnow
from portal.payments.gateway import StripeGateway
from portal.payments.reconcile import (
    ReconcileOptions,
    ReconcileReport,
    ids_in_batches,
    repair_each,
)


def _payment_ids(lookback_days: int) -> Iterator[int]:
    """Ids of payments with an open dispute or paid within ``lookback_days``, in batches."""
    since = utcnow() - timedelta(days=lookback_days)
    with_open = select(Dispute.payment_id).where(open_status_sql(Dispute.status))
    return ids_in_batches(
        Payment.id,
        Payment.stripe_payment_intent_id.is_not(None),
        Payment.id.in_(with_open)
        | ((Payment.status == PaymentStatus.SUCCEEDED) & (Payment.succeeded_at >= since)),
    )


def repair_disputes(
    *,
    gateway: StripeGateway,
    actor: Actor,
    report: ReconcileReport,
    options: ReconcileOptions | None = None,
) -> None:
    """Apply Stripe's disputes of each payment with an open dispute or paid in the last
    ``options.dispute_lookback_days``, as ``actor``; add what changed (and what could not be
    asked) to ``report``. COMMITS per payment."""
    options = options or ReconcileOptions()
    report.dispute_payments_checked += repair_each(
        _payment_ids(options.dispute_lookback_days),
        lambda payment: _repair(payment.stripe_payment_intent_id, gateway, actor),
        what="disputes",
        report=report,
    )


def _repair(intent_id: str, gateway: StripeGateway, actor: Actor) -> list[str]:
    """Apply every dispute Stripe has for the PaymentIntent; what changed, in words."""
    changes = []
    for facts in gateway.disputes_for_intent(intent_id):
        before = db.session.execute(
            select(Dispute.status).where(Dispute.stripe_dispute_id == facts.id)
        ).scalar_one_or_none()
        if sync.apply_dispute(facts, actor=actor):
            changes.append(f"dispute {facts.id} {before or 'not known'} -> {facts.status}")
    return changes
