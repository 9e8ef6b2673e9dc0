"""Reconcile refunds: ask Stripe for every refund of the payments whose refunds may still move,
and apply each through ``sync.apply_facts`` (one step of ``flask payments reconcile``).

A refund may still move while it is pending or needs action at Stripe, while it was handed to
Stripe but no answer came back (``requested`` after a hand-over: found by its metadata), and for
``SUCCEEDED_CAN_FAIL_DAYS`` after it succeeded, because Stripe can still report it failed (the
card was closed). Everything goes through the same monotonic ``apply_facts`` as webhooks, so a
run repairs what lost events left behind and changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import and_, or_

from portal.audit import Actor
from portal.models.payment import Payment
from portal.models.refund import Refund, RefundStatus
from portal.models.types import utcnow
from portal.payments.gateway import StripeGateway
from portal.payments.reconcile import (
    ReconcileOptions,
    ReconcileReport,
    ids_in_batches,
    repair_each,
)
from portal.refunds import sync

#: How long after a refund succeeded Stripe may still report it failed, as far as reconcile
#: keeps asking. Stripe does not promise a bound; failures come within days to a few weeks.
SUCCEEDED_CAN_FAIL_DAYS = 45


def _may_still_move():
    since = utcnow() - timedelta(days=SUCCEEDED_CAN_FAIL_DAYS)
    return or_(
        Refund.status.in_((RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION)),
        and_(Refund.status == RefundStatus.REQUESTED, Refund.submit_attempts > 0),
        and_(Refund.status == RefundStatus.SUCCEEDED, Refund.completed_at >= since),
    )


def _payment_ids() -> Iterator[int]:
    """Ids of payments with a refund that may still move, in batches, lowest first."""
    return ids_in_batches(Refund.payment_id, _may_still_move())


def repair_refunds(
    *,
    gateway: StripeGateway,
    actor: Actor,
    report: ReconcileReport,
    options: ReconcileOptions | None = None,
) -> None:
    """Apply Stripe's refunds of each payment whose refunds may still move, as ``actor``; add
    what changed (and what could not be asked) to ``report``. ``options`` has nothing for
    refunds. COMMITS per payment."""
    report.refund_payments_checked += repair_each(
        _payment_ids(),
        lambda payment: _repair(payment, gateway, actor),
        what="refunds",
        report=report,
    )


def _repair(payment: Payment, gateway: StripeGateway, actor: Actor) -> list[str]:
    """Apply every refund Stripe has for the payment's intent; what changed, in words."""
    changes = []
    for facts in gateway.refunds_for_intent(payment.stripe_payment_intent_id):
        refund = sync._ours(facts)
        if refund is None:
            continue
        before = refund.status
        if sync.apply_facts(refund, facts, actor=actor):
            changes.append(f"refund {refund.id} {before} -> {facts.status}")
    return changes
