"""Refunds of card payments, asked for in the back office and carried out by Stripe.

A refund row is written BEFORE Stripe is called, and its id is the idempotency key Stripe
sees (``postern-refund-<id>``): however often the call is retried (a timeout, a retry button,
two tabs), Stripe makes at most one refund for it.

``status`` (changed only by ``portal.refunds`` through conditional UPDATEs):

    pending_approval -> requested | rejected          (dual control, above the limit)
    requested -> pending | requires_action | succeeded | failed | canceled   (Stripe's answer)
    pending / requires_action -> succeeded | failed | canceled               (webhooks)
    succeeded -> failed     (Stripe's truth wins: a card closed since the payment sends it back)

A failed or cancelled refund is final; "Try again" makes a NEW refund for the same amount whose
``retry_of_id`` names it (at most one per failed refund), under the same rules as any refund.

``requested`` means "approved, Stripe not yet known to have it": the row can be sent again
with the same key until Stripe answers. Amounts in pending_approval, requested, pending,
requires_action and succeeded count against what may still be refunded.

``form_key`` is the one-time key of the form that asked for the refund. It is unique per
requester, so sending the same form twice (a double click, a resubmission after a slow answer)
finds the first refund instead of making a second. Refunds made before the key existed have none.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.payment import Payment
from portal.models.staff import StaffUser
from portal.models.types import UTCDateTime, utcnow


class RefundStatus(StrEnum):
    """``Refund.status`` (the transitions are in the module's docstring).

    ``PENDING_APPROVAL``, ``REQUESTED`` and ``REJECTED`` are ours; the rest are Stripe's refund
    statuses, mirrored once Stripe has the refund and stored exactly as Stripe sends them, so
    ``CANCELLED`` keeps Stripe's spelling "canceled" (members use the one spelling of the code,
    "cancelled").
    """

    PENDING_APPROVAL = "pending_approval"
    REQUESTED = "requested"
    REJECTED = "rejected"
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "canceled"  # Stripe's spelling


#: Statuses whose amount is (or may become) money going back to the customer.
COMMITTED_STATUSES = frozenset(
    {
        RefundStatus.PENDING_APPROVAL,
        RefundStatus.REQUESTED,
        RefundStatus.PENDING,
        RefundStatus.REQUIRES_ACTION,
        RefundStatus.SUCCEEDED,
    }
)
#: Statuses nothing can move a refund out of.
FINAL_STATUSES = frozenset({RefundStatus.REJECTED, RefundStatus.FAILED, RefundStatus.CANCELLED})


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (
        # Dual control in the database itself: whoever decides is never who asked.
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> requested_by_id",
            name="decider_is_not_requester",
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        # One refund per form: the second submission of a form finds the first one's refund.
        UniqueConstraint("requested_by_id", "form_key", name="uq_refunds_requested_by_id_form_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: A code from ``portal.refunds.reasons.REASONS``.
    reason_code: Mapped[str] = mapped_column(String(40))
    #: What the requester typed (card numbers refused). Emptied by a data-subject erasure.
    reason_note: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)

    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    #: The one-time key of the refund form that asked for it (None for older refunds).
    form_key: Mapped[str | None] = mapped_column(String(32))
    #: The API key that asked for it through the API (None: a person asked in the back office).
    #: ``requested_by_id`` is then the administrator accountable for the key.
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    #: Who approved or rejected it (dual control); never the requester.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(200))

    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: How many times the refund was handed to Stripe (retries reuse the same key).
    submit_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Why the last hand-over did not get an answer ("provider_unavailable"), or None.
    last_error_code: Mapped[str | None] = mapped_column(String(40))
    #: Stripe's refusal code or the refund's failure_reason, when it failed.
    failure_code: Mapped[str | None] = mapped_column(String(64))
    #: The failed (or cancelled) refund this one tries again, for the same amount. Unique: a
    #: failed refund is tried again once, however often "Try again" is pressed.
    retry_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("refunds.id", ondelete="RESTRICT"), unique=True
    )

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment] = relationship()
    requested_by: Mapped[StaffUser] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def idempotency_key(self) -> str:
        """The key every Stripe call creating this refund carries: derived from our row id."""
        return f"postern-refund-{self.id}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def __repr__(self) -> str:  # ids, amount and status only; never the note
        return f"<Refund {self.id} payment={self.payment_id} {self.amount_minor} {self.status}>"
