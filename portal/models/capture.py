"""Capture requests: what an agent asks a customer to pay or provide through a one-time link.

The row holds no secret in the clear: the link's nonce, the browser-binding secret and the
identity answer are stored only as hashes. ``status`` changes only through
``portal.capture.states`` (one conditional UPDATE per transition), never by assigning to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.staff import StaffUser
from portal.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from portal.models.delivery import DeliveryMessage


class CaptureRequest(db.Model):
    __tablename__ = "capture_requests"
    __table_args__ = (
        # A double-clicked "Create" (the same form key twice) makes one request, not two.
        UniqueConstraint("created_by_id", "create_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The id the outside world sees (in the link, the agent's API); random, not guessable.
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    #: "payment", "data" or "both".
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), index=True)

    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    #: The creating agent's team at creation time, so supervisors see their team's requests.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    create_key: Mapped[str | None] = mapped_column(String(32))

    # What is asked for. Amounts are integers in the currency's minor unit (ISO 4217 exponent).
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    purpose: Mapped[str | None] = mapped_column(String(140))
    reference: Mapped[str | None] = mapped_column(String(64))
    interaction_id: Mapped[str | None] = mapped_column(String(64))
    #: Name of the personal-data field set ("address", "iban", ...) for data requests.
    field_set: Mapped[str | None] = mapped_column(String(32))
    #: The customer's language ("en" or "cy", ``portal.i18n.LANGUAGES``): their message and, until
    #: they switch, their pages. Chosen by the agent (or the API caller) at creation.
    language: Mapped[str] = mapped_column(String(5), default="en", server_default="en")

    # Identity check: the item type and an HMAC of the normalised expected answer.
    identity_item: Mapped[str | None] = mapped_column(String(16))
    identity_hash: Mapped[str | None] = mapped_column(String(64))
    identity_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Short code both customer and agent read out to confirm they see the same request.
    readback_code: Mapped[str] = mapped_column(String(8))

    # The link: SHA-256 of its random nonce; a resend replaces it, killing the old link.
    link_nonce_hash: Mapped[str] = mapped_column(String(64))
    link_issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    link_channel: Mapped[str | None] = mapped_column(String(10))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    extension_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resend_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    #: SHA-256 of the secret in the cookie of the one browser that pressed Start.
    bound_secret_hash: Mapped[str | None] = mapped_column(String(64))

    # When each step happened (None = not yet).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A reason code for failed / revoked / locked / expired (plain words come from the code).
    status_reason: Mapped[str | None] = mapped_column(String(40))

    created_by: Mapped[StaffUser] = relationship()
    #: The link messages queued for this request, oldest first. Read-only: messages are
    #: written through ``portal.delivery.outbox``; this is here so the agent's panels can load
    #: them with their requests (``portal.live_status.panel.with_deliveries``) in one round trip.
    #: Link messages only: a receipt or refund notice is not a link the agent tracks.
    delivery_messages: Mapped[list[DeliveryMessage]] = relationship(
        primaryjoin="and_(CaptureRequest.id == foreign(DeliveryMessage.capture_request_id), "
        "DeliveryMessage.customer_notice.is_(None))",
        order_by="DeliveryMessage.id",
        viewonly=True,
    )

    def __repr__(self) -> str:  # ids and status only: never amounts, references or hashes
        return f"<CaptureRequest {self.id} {self.public_id} {self.status}>"
