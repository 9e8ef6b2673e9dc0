"""Disputes (chargebacks) of card payments, mirrored from Stripe.

A dispute is opened by the cardholder's bank, never by Postern: Stripe tells us with
``charge.dispute.*`` events, and ``portal.disputes`` keeps one row per Stripe dispute, written
only from a dispute fetched again from Stripe (never from the event's own copy), so a late or
repeated event can only apply the current truth.

``status`` is stored exactly as Stripe sends it (``DisputeStatus``). While a dispute is open
the payment cannot be refunded: the money is already on its way back through the bank.
``funds_withdrawn_minor`` and ``funds_reinstated_minor`` follow
``charge.dispute.funds_withdrawn`` / ``charge.dispute.funds_reinstated``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.payment import Payment
from portal.models.types import UTCDateTime, utcnow


class DisputeStatus(StrEnum):
    """Stripe's dispute statuses, in Stripe's spelling."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    WARNING_CLOSED = "warning_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"


#: Statuses of a dispute that is over: nothing moves it on.
CLOSED_DISPUTE_STATUSES = frozenset(
    {DisputeStatus.WARNING_CLOSED, DisputeStatus.WON, DisputeStatus.LOST}
)


class Dispute(db.Model):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: Stripe's reason code ("fraudulent", "product_not_received", ...); words in the display layer.
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(32), index=True)
    #: ``evidence_details.due_by``: when the evidence must reach Stripe, if a response is due.
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    funds_withdrawn_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    funds_reinstated_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_DISPUTE_STATUSES

    def __repr__(self) -> str:  # ids, amount and status only
        return f"<Dispute {self.id} payment={self.payment_id} {self.amount_minor} {self.status}>"
