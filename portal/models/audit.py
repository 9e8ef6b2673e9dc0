"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
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
    #: The lane and number the row had while pending (``AuditPending``); None on rows written
    #: before the pending table existed. Hashed when set, so they cannot be changed either.
    lane: Mapped[int | None] = mapped_column(Integer)
    lane_seq: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        # Which pending row each sealed row was: verify checks every lane is gap-free, and on
        # PostgreSQL a pending row may be deleted only once a row here names it.
        Index("uq_audit_events_lane_seq", "lane", "lane_seq", unique=True),
    )


class AuditPending(db.Model):
    """An audit row written by an action's own transaction and not yet linked into the chain.

    ``flask audit seal`` moves it into ``audit_events`` (usually within a second). Until then
    it stands alone: ``row_hash`` is an HMAC under the chain key over its content, its lane and
    its number in the lane. Each lane numbers its rows without gaps (``AuditLane``), so a
    pending row deleted before it was sealed leaves a gap that ``flask audit verify`` reports.
    Insert-only on PostgreSQL; deleted only by the sealer, once sealed (migration 0026).
    """

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    lane: Mapped[int] = mapped_column(Integer)
    lane_seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(120))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    row_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("lane", "lane_seq", name="uq_audit_pending_lane_seq"),)


class AuditLane(db.Model):
    """A lane of pending audit rows: ``allocated`` counts the rows ever written in it.

    A transaction takes one lane (a row lock, skipping lanes other transactions hold) for the
    moment it writes its pending rows, so writers never wait for one another as they did for the
    single chain lock; a rolled-back transaction takes its count back with it, so the numbers
    in a lane have no gaps. On PostgreSQL ``allocated`` can only grow and rows cannot be deleted
    (migration 0026): rolling it back to hide a deleted row is refused.
    """

    __tablename__ = "audit_lanes"

    lane: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)


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
