"""Card payments for capture requests, and the Stripe webhook events received.

Only what Stripe returns that is safe to keep is stored: PaymentIntent and charge ids,
statuses, amount, currency, card brand, last four digits, expiry month/year, the 3-D Secure
result and decline codes. Never a card number, never a security code, never a client secret.

``Payment.status`` (``PaymentStatus``) mirrors the PaymentIntent's status ("creating" until
Stripe has one) and is changed only by ``portal.payments`` through conditional UPDATEs that
never leave a final status (succeeded, canceled).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.types import UTCDateTime, utcnow


class PaymentStatus(StrEnum):
    """``Payment.status``: the status of the request's PaymentIntent, as Stripe names it.

    The values are Stripe's own, stored exactly as Stripe sends them, so ``CANCELLED`` keeps
    Stripe's spelling "canceled" (members use the one spelling of the code, "cancelled").
    ``CREATING`` is ours: the row exists but Stripe has no PaymentIntent for it yet.
    """

    CREATING = "creating"
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELLED = "canceled"  # Stripe's spelling


#: Payment statuses after which nothing about the payment can change any more.
FINAL_PAYMENT_STATUSES = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.CANCELLED})


class Payment(db.Model):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: One payment per capture request (unique): a reload or a second tab reuses it.
    capture_request_id: Mapped[int] = mapped_column(
        ForeignKey("capture_requests.id", ondelete="RESTRICT"), unique=True
    )
    #: Part of the idempotency key; bumped only if a fresh PaymentIntent is ever needed.
    intent_generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32), index=True, default=PaymentStatus.CREATING)

    latest_charge_id: Mapped[str | None] = mapped_column(String(255))
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None] = mapped_column(Integer)
    card_exp_year: Mapped[int | None] = mapped_column(Integer)
    #: The 3-D Secure result of the successful charge, or "failed" if authentication failed.
    three_d_secure: Mapped[str | None] = mapped_column(String(32))
    #: Why the last attempt failed (Stripe's error code and the issuer's decline code).
    failure_code: Mapped[str | None] = mapped_column(String(64))
    decline_code: Mapped[str | None] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancellation_reason: Mapped[str | None] = mapped_column(String(40))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    capture_request: Mapped[CaptureRequest] = relationship()

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_PAYMENT_STATUSES

    def __repr__(self) -> str:  # ids and status only
        return f"<Payment {self.id} {self.stripe_payment_intent_id} {self.status}>"


class PaymentAttempt(db.Model):
    """One card attempt whose outcome we learned (a charge, or a failed authentication).

    ``provider_ref`` is unique, so however many webhooks, reloads and reconciles report the
    same attempt, it is recorded and counted once.
    """

    __tablename__ = "payment_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    #: The charge id, or "pm:<payment method id>" for an attempt that never made a charge.
    provider_ref: Mapped[str] = mapped_column(String(255), unique=True)
    #: "succeeded" or "failed".
    outcome: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    decline_code: Mapped[str | None] = mapped_column(String(64))
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    three_d_secure: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessedWebhookEvent(db.Model):
    """A verified Stripe event, taken in once and handled later by the webhook worker
    (``portal.stripe_events.inbox``).

    The unique event id makes both happen once: the webhook endpoint INSERTs the row
    (``ON CONFLICT DO NOTHING``), so a duplicate delivery inserts nothing and does nothing
    more; the worker leases queued rows (``claimed_by`` / ``claimed_until``) so two workers
    never handle the same one. Only ids are kept (the event's, its object's, the
    PaymentIntent's and our request's public id), never the event's body: the worker asks
    Stripe for the object's current state anyway.
    """

    __tablename__ = "processed_webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    #: "queued" until handled; then "applied", "ignored" (a type we do not act on),
    #: "not_ours" or "failed" (Stripe could not be asked, every retry used up).
    outcome: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(255))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    request_public_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why the last attempt failed (an error class and Stripe's code: nothing personal).
    last_error: Mapped[str | None] = mapped_column(String(200))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The worker's queue: only queued rows are in it, so it stays small however many
        # events have been handled.
        Index(
            "ix_processed_webhook_events_queue",
            "next_attempt_at",
            postgresql_where=text("outcome = 'queued'"),
            sqlite_where=text("outcome = 'queued'"),
        ),
    )
