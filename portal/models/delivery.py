"""The delivery outbox: link messages waiting to be sent, and every attempt to send them.

A message row is written in the same transaction as the capture request it belongs to and is
sent later by the outbox worker (``portal.delivery.worker``), so creating a request never waits
on, or fails because of, an SMS or email provider.

No message body is stored: the worker renders it from the capture request (whose public id
the audit rows name) only to send it. The link itself is a bearer secret, so the outbox keeps
only ``sealed_link``, the link's token encrypted with the data keyring
(``portal.delivery.sealed_link``), and forgets it as soon as the message is final.
``destination`` is personal data: kept only so the worker can send and retry, never logged,
and emptied by retention once the message is final and old enough.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow

#: Room for a key id, a 12-byte nonce and a sealed token of up to 200 characters, in base64.
SEALED_LINK_LENGTH = 400


class MessageStatus(StrEnum):
    """``DeliveryMessage.status``: where a link message is in the outbox. Ours, so "cancelled"
    is spelled the code's way (unlike Stripe's "canceled" in payment and refund statuses)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Final: the worker never touches these messages again.
FINAL_STATUSES = frozenset({MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.CANCELLED})


class DeliveryMessage(db.Model):
    __tablename__ = "delivery_messages"
    __table_args__ = (
        # The worker's claim query: due messages by status and time.
        Index("ix_delivery_messages_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint(
            "(capture_request_id IS NULL) <> (security_notification_id IS NULL)",
            name="one_subject",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The request whose link this is; None for a security notification to an admin.
    capture_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("capture_requests.id", ondelete="CASCADE"), index=True
    )
    #: The notification this message carries to one admin (``portal.delivery.staff_notices``);
    #: None for a customer's link message. Exactly one of the two is set.
    security_notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("security_notifications.id", ondelete="CASCADE"), index=True
    )
    #: None for a link or a security notification; "receipt" (after a payment) or
    #: "refund_notice" (after a refund) for a customer notice (``portal.delivery.receipts``),
    #: which carries no link and is rendered from ``payment_id`` / ``refund_id`` when sent.
    customer_notice: Mapped[str | None] = mapped_column(String(20))
    #: What makes a notice once-only (``receipt:<payment id>``, ``refund_notice:<refund id>``):
    #: unique, so learning a success again never queues a second one. None for links.
    notice_key: Mapped[str | None] = mapped_column(String(60), unique=True)
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("refunds.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    #: "dev" | "twilio" | "smtp": the backend configured when queued, then the one that sent.
    backend: Mapped[str] = mapped_column(String(20))
    #: Normalised phone number or email address; emptied by retention.
    destination: Mapped[str | None] = mapped_column(String(320))
    #: Masked destination, kept after retention so the history stays readable.
    destination_masked: Mapped[str] = mapped_column(String(340))
    #: The link's token, sealed (``key_id:base64url(nonce + AES-GCM ciphertext)``), while the
    #: message may still be sent; None once it is final (a development outbox message keeps
    #: it until retention, so the outbox page can show the link).
    sealed_link: Mapped[str | None] = mapped_column(String(SEALED_LINK_LENGTH))
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Plain words fit for the agent; never a provider's raw response.
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_error_code: Mapped[str | None] = mapped_column(String(40))
    provider_message_id: Mapped[str | None] = mapped_column(String(120))
    #: The lease: which worker owns the message while sending, and until when.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="message",
        order_by="DeliveryAttempt.attempt_number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:  # never the destination or a body
        return f"<DeliveryMessage {self.id} {self.channel} {self.status} x{self.attempts}>"


class DeliveryAttempt(db.Model):
    """One try at handing a message to its provider. ``outcome`` is None while in flight."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (UniqueConstraint("message_id", "attempt_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("delivery_messages.id", ondelete="CASCADE"), index=True
    )
    attempt_number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))  # sent | failed
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(300))

    message: Mapped[DeliveryMessage] = relationship(back_populates="attempt_log")

    def __repr__(self) -> str:
        return f"<DeliveryAttempt {self.message_id}#{self.attempt_number} {self.outcome}>"
