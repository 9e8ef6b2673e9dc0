"""API keys (a machine acting for one team) and the responses kept for ``Idempotency-Key``.

A key's secret is never stored: only the SHA-256 of the whole key (``portal.api_keys.secret``).
The key is found by its lookup id, the short random part between the prefix and the secret, so
authentication is one indexed read and one constant-time comparison.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.staff import StaffUser, Team
from portal.models.types import UTCDateTime, utcnow


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    #: The random id inside the key, by which it is found (unique).
    lookup_id: Mapped[str] = mapped_column(String(16), unique=True)
    #: What people see of the key: its start, never enough to use it.
    prefix: Mapped[str] = mapped_column(String(24))
    #: SHA-256 (hex) of the whole key.
    secret_hash: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    #: Granted scopes, space-separated (``portal.api_keys.scopes.SCOPES``).
    scopes: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Written at most once a minute per key (``portal.api_keys.service.note_use``).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    team: Mapped[Team] = relationship()
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[StaffUser | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(db.Model):
    """One ``Idempotency-Key`` of one API key: what was asked (a fingerprint) and, once it
    finished, the response to replay. Unique per (API key, idempotency key), so two retries
    racing each other cannot both run. Purged after 24 hours (``flask retention purge``)."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of the method, path and body: "the same parameters".
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: None while the first request is still running.
    response_status: Mapped[int | None] = mapped_column(Integer)
    #: The answer's body, sealed with the data keyring (``portal.api.idempotency``): it may
    #: carry a copy-link request's link, which must never rest in the database readable.
    response_key_id: Mapped[str | None] = mapped_column(String(32))
    response_nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
