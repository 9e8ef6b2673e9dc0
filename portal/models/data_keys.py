"""The key store: each capture request's data key, wrapped by a keyring key. A database of its
own (Flask-SQLAlchemy bind ``keys``, ``KEY_STORE_URL``), never the main one, so that the main
database's backups hold the encrypted values without the keys to them
(docs/personal-data-encryption.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow

#: The Flask-SQLAlchemy bind (``SQLALCHEMY_BINDS``) the key store is reached through.
KEY_STORE_BIND = "keys"


class DataKey(db.Model):
    """One capture request's 256-bit data key, AES-256-GCM wrapped by the keyring key named
    ``wrapping_key_id``, bound to the request id (portal.personal_data.crypto.wrap_data_key).
    Deleting the row is erasure: without it the request's values, wherever a copy of them
    survives, cannot be decrypted. Rotation rewrites ``wrapping_key_id``, ``nonce`` and
    ``wrapped_key`` only."""

    __bind_key__ = KEY_STORE_BIND
    __tablename__ = "data_keys"

    #: The capture request's id in the main database (another database: no foreign key).
    capture_request_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapping_key_id: Mapped[str] = mapped_column(String(32), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When rotation last re-wrapped it (None: still under the key it was made with).
    rewrapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # never key material
        return f"<DataKey request={self.capture_request_id} wrapped by {self.wrapping_key_id!r}>"
