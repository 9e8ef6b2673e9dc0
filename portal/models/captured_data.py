"""Personal data a customer entered for a capture request: encrypted values and the record of
the customer's decision (submitted or declined), which outlives the values themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class DataSubmission(db.Model):
    """What the customer decided, once per capture request (the unique column makes a second
    submission or decline fail in the database, whatever races). Holds nothing personal, so it
    is kept after the values are erased, as evidence of what was asked, shown and received."""

    __tablename__ = "data_submissions"
    __table_args__ = (
        CheckConstraint(
            "(submitted_at IS NULL) <> (declined_at IS NULL)", name="submitted_xor_declined"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_request_id: Mapped[int] = mapped_column(
        ForeignKey("capture_requests.id", ondelete="RESTRICT"), unique=True
    )
    field_set: Mapped[str] = mapped_column(String(32))
    #: The privacy notice version on the customer's screen when they decided.
    privacy_notice_version: Mapped[str] = mapped_column(String(40))
    retention_class: Mapped[str] = mapped_column(String(40))
    #: Names of the fields that held a value (never the values).
    fields_received: Mapped[list] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the values were deleted (retention or a data-subject request); the row stays.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<DataSubmission {self.id} request={self.capture_request_id} {self.field_set}>"


class CapturedValue(db.Model):
    """One field's value, AES-256-GCM encrypted on its own (see portal.personal_data.crypto).

    ``key_id`` names the key that encrypted it; ``flask keys rotate`` re-encrypts rows under an
    old key with a conditional UPDATE on (id, key_id), so it can run beside live traffic.
    """

    __tablename__ = "captured_values"
    __table_args__ = (UniqueConstraint("capture_request_id", "field_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_request_id: Mapped[int] = mapped_column(
        ForeignKey("capture_requests.id", ondelete="RESTRICT"), index=True
    )
    field_name: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # never the ciphertext, let alone the value
        return f"<CapturedValue {self.id} request={self.capture_request_id} {self.field_name}>"
