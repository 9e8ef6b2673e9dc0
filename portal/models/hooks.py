"""Outbound webhooks: the buyer's endpoints, their signing secrets, the events Postern emits
about capture requests, and each event's delivery to each endpoint (``portal.hooks``).

An event and its delivery rows are written in the same transaction as the audit row they come
from, so an outcome that happened is never lost on its way to the buyer's systems; the worker
(``flask hooks work``) sends them later, at least once. Nothing personal is stored here: ids,
types, statuses, amounts, reason codes and field *names*, never values, card numbers or links.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.staff import Team
from portal.models.types import UTCDateTime, utcnow


class HookDeliveryStatus(StrEnum):
    #: Not yet tried, or being tried now (a worker holds its lease).
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: The last attempt failed; another is scheduled (``next_attempt_at``).
    FAILED = "failed"
    #: Given up: every retry within the retry window failed.
    ABANDONED = "abandoned"


#: Still owed to the endpoint: these hold back the same request's later events.
OPEN_DELIVERY_STATUSES = (HookDeliveryStatus.PENDING.value, HookDeliveryStatus.FAILED.value)


class HookEndpoint(db.Model):
    __tablename__ = "hook_endpoints"
    __table_args__ = (Index("ix_hook_endpoints_enabled_team", "enabled", "team_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Whose requests it hears about; None: every team's.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    #: Event types subscribed to (``portal.hooks.catalogue``).
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Why it is disabled: "admin" (someone chose to) or "failing" (the worker gave up on it).
    disabled_reason: Mapped[str | None] = mapped_column(String(40))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Attempts that failed in a row, and when the first of them was: both reset by a success.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    team: Mapped[Team | None] = relationship()
    secrets: Mapped[list[HookSecret]] = relationship(
        back_populates="endpoint", order_by="HookSecret.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:  # the URL may carry a token of the buyer's: never shown here
        return f"<HookEndpoint {self.id} enabled={self.enabled}>"


class HookSecret(db.Model):
    """One signing secret of an endpoint, sealed with the data keyring
    (``portal.models.sealed_secret``). During a rotation an endpoint has two: the new one and
    the old one until its ``expires_at``; every unexpired one signs."""

    __tablename__ = "hook_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("hook_endpoints.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None while it is the newest; set at rotation to the end of the overlap window.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint: Mapped[HookEndpoint] = relationship(back_populates="secrets")

    def __repr__(self) -> str:
        return f"<HookSecret {self.id} of endpoint {self.endpoint_id}>"


class HookEvent(db.Model):
    __tablename__ = "hook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``evt_`` + random: the ``webhook-id`` header and the body's ``id``, on every retry.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    #: None for a test event sent from the back office.
    capture_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("capture_requests.id", ondelete="CASCADE"), index=True
    )
    capture_request_public_id: Mapped[str | None] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The body's ``data`` exactly as delivered (``portal.hooks.events.event_body``).
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<HookEvent {self.public_id} {self.type}>"


class HookDelivery(db.Model):
    """One event owed to one endpoint: a lease-and-claim queue row (``portal.leases``)."""

    __tablename__ = "hook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        # The worker's claim: due rows by status and time.
        Index("ix_hook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # Ordering: is an earlier event of the same request still owed to this endpoint?
        Index("ix_hook_deliveries_endpoint_request", "endpoint_id", "capture_request_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("hook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("hook_endpoints.id", ondelete="CASCADE"), index=True
    )
    #: Copied from the event, so the ordering check reads one table.
    capture_request_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=HookDeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: No retry is scheduled past this: the delivery is abandoned instead.
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    #: Short words of ours (a timeout, a refused address); never the response body.
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[HookEvent] = relationship()
    endpoint: Mapped[HookEndpoint] = relationship()

    def __repr__(self) -> str:
        return f"<HookDelivery {self.id} {self.status} x{self.attempts}>"


class HookAttempt(db.Model):
    """One try at delivering: the endpoint's delivery log."""

    __tablename__ = "hook_attempts"
    __table_args__ = (Index("ix_hook_attempts_endpoint_started", "endpoint_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("hook_deliveries.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("hook_endpoints.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(200))

    delivery: Mapped[HookDelivery] = relationship()
