"""Where a payment stands for refunds, and whether it may be refunded at all: the money rules
that ``portal.refunds.service`` applies under its lock on the payment row, and the figures the
back office shows (``portal.refunds.queries.refund_standing``).

What is left to refund is what was paid, less refunds done, on their way or awaiting approval
(``COMMITTED_STATUSES``: held back so nobody asks for the same money twice while a second
person decides), less what a lost dispute took back. A payment is refundable once it went
through and while no chargeback is open; an inquiry does not stop a refund
(``portal.models.dispute.status_blocks_refund``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from portal.disputes import wording as dispute_words
from portal.disputes.queries import charged_back_minor, refund_blocking_dispute_for
from portal.extensions import db
from portal.i18n import N_
from portal.models.payment import Payment, PaymentStatus
from portal.models.refund import COMMITTED_STATUSES, Refund, RefundStatus
from portal.money import format_amount
from portal.refunds.errors import Disputed, NotRefundable, OverRefund


@dataclass(frozen=True)
class Position:
    """Money on a payment: paid, committed to refunds (done or on the way), taken back by the
    cardholder's bank through a lost dispute, and what is left."""

    paid: int
    committed: int
    refunded: int
    currency: str
    #: What disputes the cardholder won took back: that money is already with them.
    charged_back: int = 0

    @property
    def remaining(self) -> int:
        return max(self.paid - self.committed - self.charged_back, 0)


def position(payment: Payment) -> Position:
    committed, refunded = db.session.execute(
        select(
            func.coalesce(
                func.sum(Refund.amount_minor).filter(Refund.status.in_(COMMITTED_STATUSES)), 0
            ),
            func.coalesce(
                func.sum(Refund.amount_minor).filter(Refund.status == RefundStatus.SUCCEEDED), 0
            ),
        ).where(Refund.payment_id == payment.id)
    ).one()
    paid = payment.amount_minor if payment.status == PaymentStatus.SUCCEEDED else 0
    return Position(
        paid, int(committed), int(refunded), payment.currency, charged_back_minor(payment.id)
    )


def refuse_if_not_refundable(payment: Payment) -> None:
    """Raise NotRefundable unless the payment went through, or Disputed while the cardholder's
    bank has a chargeback open on it (an inquiry alone does not stop a refund)."""
    if payment.status != PaymentStatus.SUCCEEDED or not payment.stripe_payment_intent_id:
        raise NotRefundable(N_("Only a payment that went through can be refunded."))
    if refund_blocking_dispute_for(payment.id) is not None:
        raise Disputed(dispute_words.REFUND_REFUSED)


def refuse_over_refund(pos: Position, amount_minor: int) -> None:
    """Raise OverRefund, saying what is left and why, if ``amount_minor`` is more than that."""
    if amount_minor > pos.remaining:
        raise OverRefund(_over_refund_message(pos))


def _over_refund_message(pos: Position) -> str:
    if pos.charged_back:
        return (
            f"You can refund at most {format_amount(pos.remaining, pos.currency)}: "
            f"{format_amount(pos.paid, pos.currency)} was paid, the cardholder's bank took "
            f"{format_amount(pos.charged_back, pos.currency)} back through a dispute, and "
            f"{format_amount(pos.committed, pos.currency)} is already refunded, on its way or "
            "awaiting approval."
        )
    if pos.remaining == 0:
        return (
            "Nothing is left to refund on this payment: it has been refunded, or the rest is on "
            "its way or awaiting approval."
        )
    return (
        f"You can refund at most {format_amount(pos.remaining, pos.currency)}: "
        f"{format_amount(pos.paid, pos.currency)} was paid and "
        f"{format_amount(pos.committed, pos.currency)} is already refunded, on its way or "
        "awaiting approval."
    )
