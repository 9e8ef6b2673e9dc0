"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow

#: ``prev_hash`` of the first row of the chain.
GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    """One audited action. Rows are only ever inserted.

    ``seq`` numbers the chain without gaps; ``prev_hash`` is the previous row's ``row_hash`` and
    is unique, so two writers can never both extend the chain from the same row: the database,
    not a read-then-write, keeps the chain linear.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_label: Mapped[str] = mapped_column(String(120))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    #: Non-personal details only (ids, counts, reasons chosen from a list).
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(db.Model):
    """Where the chain ended when it was last anchored: the newest row's ``seq`` and
    ``row_hash``, sealed with an HMAC under a key derived from the chain key.

    Kept outside ``audit_events`` (and copied to the JSON log) so that deleting the newest
    rows, which leaves a shorter chain that still verifies, is noticed (``portal.audit.anchors``).
    Append-only on PostgreSQL, like the trail.
    """

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    row_hash: Mapped[str] = mapped_column(String(64))
    anchored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seal: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditAnchor at seq {self.seq}>"
