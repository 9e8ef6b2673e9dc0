"""Disputes (chargebacks) of card payments, mirrored from Stripe.

A dispute is opened by the cardholder's bank, never by Postern: Stripe tells us with
``charge.dispute.*`` events, and ``portal.disputes`` keeps one row per Stripe dispute, written
only from a dispute fetched again from Stripe (never from the event's own copy), so a late or
repeated event can only apply the current truth.

``status`` is stored exactly as Stripe sends it (``DisputeStatus``). This module is the ONE
home of what each status means; the refund rules, the queries, the payment's standing (in
Python and in SQL) and reconcile all ask it, never a list of their own:

- an **inquiry** (``INQUIRY_STATUSES``, Stripe's open ``warning_*``) is the bank asking about
  the payment before any chargeback: no money has moved and the payment can still be refunded
  (Stripe's ``is_charge_refundable`` is true; a refund usually closes the inquiry);
- a **chargeback** (``CHARGEBACK_STATUSES``) is a real dispute being decided: Stripe has taken
  the disputed amount from our balance and refuses a refund (``charge_disputed``), so Postern
  refuses one too (``status_blocks_refund``);
- a **closed** dispute (``CLOSED_DISPUTE_STATUSES``) is over and never reopens. A chargeback
  stays unrefundable once decided, won or lost: Stripe's ``is_charge_refundable`` is false for
  every chargeback (true only for an inquiry), so Postern refuses a refund after ``won`` and
  ``lost`` as well; after a closed inquiry (``warning_closed``) a refund is allowed.

**A status Postern does not know** (one Stripe adds later, such as ``prevented``) is treated
everywhere as an open chargeback: it reads "Disputed", blocks a refund, counts its amount as
taken back (net is never overstated), and reconcile keeps fetching it again. That errs
towards a person looking at it in Stripe rather than a refund Stripe may refuse or money we
may not keep; ``portal.disputes.sync`` logs a warning when it stores such a status, and the
status is added to one of the sets below once its meaning is known.

``funds_withdrawn_minor`` and ``funds_reinstated_minor`` follow
``charge.dispute.funds_withdrawn`` / ``charge.dispute.funds_reinstated``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ColumnElement, ForeignKey, Integer, String, or_
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


_D = DisputeStatus
#: The bank is asking about the payment, no chargeback yet: still refundable.
INQUIRY_STATUSES = frozenset({_D.WARNING_NEEDS_RESPONSE, _D.WARNING_UNDER_REVIEW})
#: A real dispute being decided: the amount is taken from our balance, no refund possible.
CHARGEBACK_STATUSES = frozenset({_D.NEEDS_RESPONSE, _D.UNDER_REVIEW})
#: Still being decided (an unknown status counts as open too: ``is_open_status``).
OPEN_DISPUTE_STATUSES = INQUIRY_STATUSES | CHARGEBACK_STATUSES
#: Over: nothing moves it on.
CLOSED_DISPUTE_STATUSES = frozenset({_D.WARNING_CLOSED, _D.WON, _D.LOST})
KNOWN_DISPUTE_STATUSES = OPEN_DISPUTE_STATUSES | CLOSED_DISPUTE_STATUSES
#: Known statuses whose amount Stripe has taken back from us: a chargeback under way, or lost.
#: An inquiry moves no money; a won dispute's funds were reinstated.
WITHHELD_DISPUTE_STATUSES = CHARGEBACK_STATUSES | {_D.LOST}


def is_open_status(status: str | None) -> bool:
    """Whether a dispute in ``status`` is still being decided (an unknown status is)."""
    return status is not None and status not in CLOSED_DISPUTE_STATUSES


def is_inquiry_status(status: str | None) -> bool:
    return status in INQUIRY_STATUSES


#: Dispute statuses after which Stripe still refunds the payment (``is_charge_refundable``):
#: an inquiry, open or closed. Any other (a chargeback, decided or not, or unknown) refuses.
REFUNDABLE_DISPUTE_STATUSES = INQUIRY_STATUSES | {_D.WARNING_CLOSED}


def status_blocks_refund(status: str | None) -> bool:
    """Whether a dispute in ``status`` forbids a refund: any chargeback, open or decided."""
    return status is not None and status not in REFUNDABLE_DISPUTE_STATUSES


def status_withholds_funds(status: str | None) -> bool:
    """Whether Stripe has taken the disputed amount back from us (assumed for an unknown
    status, so that what we keep is never overstated)."""
    if status is None:
        return False
    return status in WITHHELD_DISPUTE_STATUSES or status not in KNOWN_DISPUTE_STATUSES


def _values(statuses: frozenset[DisputeStatus]) -> list[str]:
    return sorted(status.value for status in statuses)


# The same rules over a status column, for queries and the SQL twin of the payment's standing.
# A NULL status (no dispute) is none of them: ``NOT IN`` and ``IN`` give NULL, never true.


def open_status_sql(status: ColumnElement) -> ColumnElement[bool]:
    return status.not_in(_values(CLOSED_DISPUTE_STATUSES))


def refund_blocking_sql(status: ColumnElement) -> ColumnElement[bool]:
    return status.not_in(_values(REFUNDABLE_DISPUTE_STATUSES))


def withheld_sql(status: ColumnElement) -> ColumnElement[bool]:
    return or_(
        status.in_(_values(WITHHELD_DISPUTE_STATUSES)),
        status.not_in(_values(KNOWN_DISPUTE_STATUSES)),
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
        return is_open_status(self.status)

    @property
    def is_inquiry(self) -> bool:
        return is_inquiry_status(self.status)

    @property
    def blocks_refund(self) -> bool:
        return status_blocks_refund(self.status)

    def __repr__(self) -> str:  # ids, amount and status only
        return f"<Dispute {self.id} payment={self.payment_id} {self.amount_minor} {self.status}>"
