"""Staff accounts, teams, login sessions, MFA recovery codes and password history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.sealed_secret import SealedSeed, app_keyring, seal_seed, unseal_seed
from portal.models.types import UTCDateTime, utcnow


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[StaffUser]] = relationship(back_populates="team")


class StaffUser(db.Model):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when an administrator resets the password: the temporary one they were given opens
    #: only the change-password page until they choose their own (PCI DSS 8.3.5).
    password_must_change: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Lockout state (PCI DSS 8.3.4), changed only by conditional UPDATEs in the auth service.
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # TOTP: the seed exists from enrolment start; the factor counts only once confirmed. It is
    # stored sealed with the data keyring (portal.models.sealed_secret), never in clear; read
    # and set it as ``totp_secret``.
    totp_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    totp_nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The last TOTP time step accepted, so one code cannot be replayed within its window.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    team: Mapped[Team | None] = relationship(back_populates="members")

    @property
    def has_second_factor(self) -> bool:
        """True if a second factor is enrolled: a confirmed TOTP app or at least one passkey
        (``portal.models.passkey``). Asks the database only when TOTP is off."""
        if self.mfa_enabled:
            return True
        from portal.models.passkey import Passkey  # models of one package, loaded together

        return db.session.query(Passkey.id).filter_by(user_id=self.id).first() is not None

    @property
    def totp_secret(self) -> str | None:
        """The TOTP seed in clear, decrypted on each read (only to check a code or draw the
        enrolment QR); None before enrolment starts. Raises UnknownKeyError or
        SealedSecretError if its key is gone or the stored seal was altered."""
        if self.totp_ciphertext is None:
            return None
        sealed = SealedSeed(self.totp_key_id or "", self.totp_nonce or b"", self.totp_ciphertext)
        return unseal_seed(app_keyring(), self.id, sealed)

    @totp_secret.setter
    def totp_secret(self, seed: str | None) -> None:
        if seed is None:
            self.totp_key_id = self.totp_nonce = self.totp_ciphertext = None
            return
        if self.id is None:
            # The seal is bound to the account's id, which the database gives at flush.
            raise ValueError("flush a new staff account before giving it a TOTP seed")
        self.set_sealed_seed(seal_seed(app_keyring(), self.id, seed))

    def set_sealed_seed(self, sealed: SealedSeed) -> None:
        self.totp_key_id, self.totp_nonce, self.totp_ciphertext = (
            sealed.key_id,
            sealed.nonce,
            sealed.ciphertext,
        )

    def __repr__(self) -> str:  # never include secrets
        return f"<StaffUser {self.id} {self.username} {self.role}>"


class StaffSession(db.Model):
    """A server-side login session; the browser's cookie holds only its random id.

    Keeping sessions in the database lets Postern rotate the id at login, end a user's other
    sessions when the password changes, and enforce idle and absolute timeouts on every app
    process alike.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: SHA-256 of the random session token; the token itself lives only in the cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the password and (if required) the second factor were last proven.
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mfa_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The single sign-on provider proved a second factor for this session (its ``amr`` or
    #: ``acr``): it stands in for a locally enrolled one (``portal.sso.signin``).
    mfa_by_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When password AND second factor were last proven again for a sensitive action (refunds,
    #: erasure, staff changes: ``portal.staff.reauth``); None until the first time.
    reauthenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    #: The device it signed in from, in words ("Chrome on Windows"), parsed from the user agent
    #: at sign-in (``portal.security.devices``); the raw header is not kept.
    device: Mapped[str | None] = mapped_column(String(80))
    #: The client's address at sign-in; pages show it masked (``devices.approximate_address``).
    ip_address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[StaffUser] = relationship()


class RecoveryCode(db.Model):
    """A single-use MFA recovery code, stored only as an argon2 hash."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordHistory(db.Model):
    """A password an account used before, kept only as its argon2 hash so that it cannot be
    chosen again (PCI DSS 8.3.7: not any of the last four). ``portal.staff.password_history``
    keeps the newest few per account and deletes the rest."""

    __tablename__ = "staff_password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: When this password stopped being the account's password.
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
