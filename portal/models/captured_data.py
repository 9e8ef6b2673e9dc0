"""Personal data a customer entered for a capture request: encrypted values and the record of
the customer's decision (submitted or declined), which outlives the values themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
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


#: How a value is encrypted (``captured_values.format``; portal.personal_data.crypto).
#: Under a keyring key directly, as before envelope encryption: ``key_id`` names the key.
FORMAT_KEYRING = 1
#: Under its capture request's own data key, which the key store keeps wrapped: ``key_id`` is
#: empty, the value row never names a keyring key, and rotation never touches it.
FORMAT_ENVELOPE = 2


class CapturedValue(db.Model):
    """One field's value, AES-256-GCM encrypted on its own (see portal.personal_data.crypto).

    New values are ``FORMAT_ENVELOPE``: encrypted under the request's data key, which lives in
    the key store (``portal.models.data_keys``) and is destroyed on erasure. Values stored
    before that are ``FORMAT_KEYRING`` with the keyring key's id in ``key_id``; they still read,
    and ``flask keys rotate`` (or ``convert-values``) turns them into the envelope format with
    a conditional UPDATE on (id, format), beside live traffic.
    """

    __tablename__ = "captured_values"
    __table_args__ = (
        UniqueConstraint("capture_request_id", "field_name"),
        CheckConstraint("(format = 1) = (key_id IS NOT NULL)", name="key_id_iff_keyring_format"),
        # Only the rows still to convert: the index is empty once the conversion is done.
        Index(
            "ix_captured_values_keyring_format",
            "id",
            postgresql_where=text("format = 1"),
            sqlite_where=text("format = 1"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_request_id: Mapped[int] = mapped_column(
        ForeignKey("capture_requests.id", ondelete="RESTRICT"), index=True
    )
    field_name: Mapped[str] = mapped_column(String(64))
    format: Mapped[int] = mapped_column(SmallInteger, default=FORMAT_KEYRING, server_default="1")
    key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # never the ciphertext, let alone the value
        return f"<CapturedValue {self.id} request={self.capture_request_id} {self.field_name}>"


class ErasureJournalEntry(db.Model):
    """One capture request whose values were erased (data-subject erasure or retention): ids
    and times only, nothing personal. Kept in the main database so that it travels with the
    values: after the key store is restored from a backup, ``flask keys reapply-erasures``
    destroys again every data key this journal names. No foreign key: the entry must outlive
    the request itself (the 7-year purge deletes requests)."""

    __tablename__ = "erasure_journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_request_id: Mapped[int] = mapped_column(Integer, unique=True)
    #: "data_subject" | "retention"
    cause: Mapped[str] = mapped_column(String(16))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<ErasureJournalEntry request={self.capture_request_id} {self.cause}>"
