"""Read-only questions about refunds that pages, exports and the agent panel ask, many payments
at a time. One home for "how much went back" so every place that shows it agrees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from portal.disputes.queries import open_dispute_for, refund_blocking_dispute_for
from portal.extensions import db
from portal.models.dispute import Dispute
from portal.models.payment import Payment
from portal.models.refund import Refund, RefundStatus
from portal.refunds.position import position

#: Money Stripe has (or is about to have) but that has not reached the customer yet: approved
#: and being handed over, or accepted by Stripe and waiting on the bank. A refund still waiting
#: for a second person's approval is not counted: it may yet be rejected.
PENDING_STATUSES = frozenset(
    {RefundStatus.REQUESTED, RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION}
)


def refund_totals(payment_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """``{payment_id: (refunded_minor, pending_minor)}`` for every id given (``(0, 0)`` when a
    payment has no refund). ``refunded_minor`` sums refunds Stripe says succeeded (a refund that
    later failed no longer counts); ``pending_minor`` sums those on their way
    (``PENDING_STATUSES``). One query, whatever the number of ids."""
    ids = list(dict.fromkeys(payment_ids))
    totals = dict.fromkeys(ids, (0, 0))
    if not ids:
        return totals
    rows = db.session.execute(
        select(
            Refund.payment_id,
            func.coalesce(
                func.sum(Refund.amount_minor).filter(Refund.status == RefundStatus.SUCCEEDED), 0
            ),
            func.coalesce(
                func.sum(Refund.amount_minor).filter(Refund.status.in_(PENDING_STATUSES)), 0
            ),
        )
        .where(Refund.payment_id.in_(ids))
        .group_by(Refund.payment_id)
    ).all()
    for payment_id, refunded, pending in rows:
        totals[payment_id] = (int(refunded), int(pending))
    return totals


def failed_refunds(payment_id: int | None = None, *, limit: int = 100) -> list[Refund]:
    """Refunds that failed or were cancelled and were not tried again yet, newest first: of
    one payment, or of every payment (at most ``limit``). What the back office offers "Try
    again" for."""
    retry = aliased(Refund)
    query = select(Refund).where(
        Refund.status.in_((RefundStatus.FAILED, RefundStatus.CANCELLED)),
        ~select(retry.id).where(retry.retry_of_id == Refund.id).exists(),
    )
    if payment_id is not None:
        query = query.where(Refund.payment_id == payment_id)
    return list(db.session.execute(query.order_by(Refund.id.desc()).limit(limit)).scalars())


@dataclass(frozen=True)
class RefundStanding:
    """Where a payment stands for refunds, as the back office shows it beside the payment."""

    paid: int
    refunded: int
    #: Refunds approved (or needing no approval) and not yet done: being handed to Stripe, or
    #: accepted by Stripe and waiting on the bank (``PENDING_STATUSES``). Money on its way.
    on_the_way: int
    #: Refunds still waiting for a second person's approval: they may yet be rejected, so they
    #: are never money on its way; ``remaining`` holds them back all the same, so that nobody
    #: asks for the same money twice meanwhile.
    awaiting_approval: int
    remaining: int
    currency: str
    #: The cardholder's bank's open dispute or inquiry, if any (shown with its words).
    open_dispute: Dispute | None
    #: Failed refunds not tried again yet.
    failed: list[Refund]
    #: The open chargeback that forbids a refund, if any (never an inquiry).
    blocking_dispute: Dispute | None = None

    @property
    def refundable(self) -> bool:
        """Whether "Refund" is offered: something is left and no chargeback is open (an
        inquiry does not stop a refund)."""
        return self.remaining > 0 and self.blocking_dispute is None


def refund_standing(payment: Payment) -> RefundStanding:
    """The payment's refund figures (``position.position``), open dispute and failed refunds."""
    pos = position(payment)
    _, pending = refund_totals([payment.id])[payment.id]
    return RefundStanding(
        paid=pos.paid,
        refunded=pos.refunded,
        on_the_way=pending,
        # Committed is succeeded, on its way (pending) and waiting for approval: the rest.
        awaiting_approval=pos.committed - pos.refunded - pending,
        remaining=pos.remaining,
        currency=pos.currency,
        open_dispute=open_dispute_for(payment.id),
        failed=failed_refunds(payment.id),
        blocking_dispute=refund_blocking_dispute_for(payment.id),
    )
