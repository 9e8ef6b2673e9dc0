"""Passkeys (WebAuthn credentials) of staff accounts, and the challenges of their ceremonies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class Passkey(db.Model):
    """One registered passkey: its public key and what the authenticator told us about it.

    Nothing secret is stored: the private key never leaves the person's device. The sign
    counter is kept so that a cloned authenticator (whose counter lags behind) is noticed.
    """

    __tablename__ = "staff_passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    #: The person's own name for it ("Work laptop"), shown on their account page.
    name: Mapped[str] = mapped_column(String(60))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    #: The WebAuthn user handle the credential was made for: random, the same for all of one
    #: person's passkeys, so an authenticator replaces rather than duplicates its own.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary)
    #: The COSE-encoded public key.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    #: How the browser can reach it ("internal,hybrid"), given back on each sign-in.
    transports: Mapped[str] = mapped_column(String(120), default="")
    #: Backup eligibility: whether it may be synced to other devices (a "synced passkey").
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Backup state: whether it is synced now, as last reported.
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Passkey {self.id} of staff {self.user_id}>"


class PasskeyChallenge(db.Model):
    """The random challenge of one WebAuthn ceremony, kept on the server.

    The browser's cookie holds only a random token naming the row (stored here as its SHA-256).
    A row is deleted as it is used, so a challenge answers one ceremony only, and it expires
    after a couple of minutes whatever happens.
    """

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: "register", "second_factor", "sign_in" or "reauth": a challenge serves only its own
    #: ceremony.
    purpose: Mapped[str] = mapped_column(String(20))
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    #: Whose ceremony it is; None for a passwordless sign-in, where nobody is known yet.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
