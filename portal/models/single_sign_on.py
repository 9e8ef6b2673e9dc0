"""Single sign-on: which OpenID Provider account is which staff member, and which Postern
sessions each provider session opened (for back-channel logout)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.staff import StaffUser
from portal.models.types import UTCDateTime, utcnow


class SsoIdentity(db.Model):
    """A staff member's account at one OpenID Provider, named as the provider names it: its
    issuer and the subject (``sub``), which the provider promises never to reuse. Found by
    these two alone at every later sign-in: an email address or a username can change hands."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    #: The configured provider's name (POSTERN_SSO_PROVIDERS), for people reading the records.
    provider: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    #: The groups the provider last reported that Postern's mapping knows (not all of them):
    #: what the role and team were last decided from.
    mapped_groups: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[StaffUser] = relationship()


class SsoSession(db.Model):
    """A Postern session opened by a sign-in through a provider, and the provider's own session
    id (``sid``) for it, so that the provider's back-channel logout can end exactly those."""

    __tablename__ = "sso_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_session_id: Mapped[int] = mapped_column(
        ForeignKey("staff_sessions.id"), unique=True, index=True
    )
    identity_id: Mapped[int] = mapped_column(ForeignKey("sso_identities.id"), index=True)
    #: The provider's session id from the ID token; None when the provider sends none.
    provider_sid: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SsoLogoutToken(db.Model):
    """A back-channel logout token already acted on (a hash of its issuer and ``jti``), so
    that the same token is believed once. Kept only while the token could still pass the age
    check (``portal.sso.logout``)."""

    __tablename__ = "sso_logout_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
