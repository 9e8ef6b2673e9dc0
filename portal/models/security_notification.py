"""Security notifications: the emails that tell admins something needs looking at (a burst of
staff lockouts or identity-check locks, CSP violations on the payment page, a broken audit
chain, a silent worker), throttled to one per kind per window (``portal.security_alerts``).

One row per notification sent, numbered per kind: ``(kind, sequence)`` is unique, so when two
processes decide at once to send the next notification of a kind, the database lets exactly
one of them. The row is what the email is rendered from (``portal.delivery.staff_notices``),
one outbox message per admin. Nothing personal: a kind, times, counts, and details such as
directive names, worker names or an audit sequence number.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class NotificationKind(StrEnum):
    STAFF_LOCKOUTS = "staff_lockouts"
    IDENTITY_LOCKS = "identity_locks"
    PAYMENT_PAGE_CSP = "payment_page_csp"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken"
    WORKER_SILENT = "worker_silent"
    #: An outbound webhook endpoint kept failing and was disabled (``portal.hooks.failing``).
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"


class SecurityNotification(db.Model):
    __tablename__ = "security_notifications"
    __table_args__ = (UniqueConstraint("kind", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    #: 1 for the first notification of its kind, then one more each time.
    sequence: Mapped[int] = mapped_column(Integer)
    #: When it was decided and queued; no other of its kind is sent for a throttle window.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The span ``event_count`` covers.
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: What this notification reports: lockouts, locks or reports in the window; silent
    #: workers; 1 for a broken chain.
    event_count: Mapped[int] = mapped_column(Integer)
    #: What the previous notification of this kind held back during its throttle window.
    suppressed_count: Mapped[int] = mapped_column(Integer, default=0)
    #: What this one's throttle window held back so far (reported by the next one).
    held_back_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Events up to this time are counted, here or in ``held_back_count``.
    counted_until: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Non-personal specifics: CSP directives and counts, worker names, an audit seq.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The back-office page to look at (a path on PUBLIC_BASE_URL).
    page_path: Mapped[str] = mapped_column(String(200))
    #: How many admins it was queued for.
    recipients: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<SecurityNotification {self.kind}#{self.sequence} x{self.event_count}>"
