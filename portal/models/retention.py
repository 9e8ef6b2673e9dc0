"""Where the audit chain starts after retention has deleted its oldest rows.

Deleting the first rows of a hash chain makes the first kept row look like it links to
nothing. Each retention run that deletes audit rows writes a checkpoint naming the first row
it kept (its ``seq`` and ``row_hash``), sealed with an HMAC under the audit chain key, so that
``flask audit verify`` starts there and still notices any row deleted by anyone else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class AuditCheckpoint(db.Model):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The first audit row kept: verification starts at this seq and expects this hash.
    first_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_row_hash: Mapped[str] = mapped_column(String(64))
    #: How many rows this run deleted before ``first_seq``.
    rows_deleted: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: For each lane (``portal.audit.pending``), the highest lane number retention has deleted
    #: so far, over every run ({"3": 1042}): a lane's kept rows must start just above it. None
    #: on a checkpoint written before lanes were recorded (its lanes are then not held to it).
    lanes_trimmed: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: HMAC (audit chain key) over the fields above: a hand-made checkpoint does not verify.
    seal: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditCheckpoint from seq {self.first_seq}>"
