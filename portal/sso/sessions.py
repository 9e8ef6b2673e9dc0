"""Which Postern sessions a sign-in through a provider opened, and ending them when the
provider says its session is over (back-channel logout)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models.single_sign_on import SsoIdentity, SsoLogoutToken, SsoSession
from portal.models.staff import StaffSession
from portal.models.types import utcnow


def link(row: StaffSession, identity: SsoIdentity, provider_sid: str | None) -> None:
    """Remember that ``row`` was opened through ``identity``'s provider session. Caller commits."""
    db.session.add(
        SsoSession(staff_session_id=row.id, identity_id=identity.id, provider_sid=provider_sid)
    )
    db.session.flush()


def carry_link_to_replacement(old: StaffSession, new: StaffSession) -> None:
    """A session that finished its second factor here is replaced by a new one (a new id):
    the new one belongs to the same provider session. Registered as a session listener."""
    linked = db.session.execute(
        select(SsoSession).where(SsoSession.staff_session_id == old.id)
    ).scalar_one_or_none()
    if linked is not None:
        db.session.add(
            SsoSession(
                staff_session_id=new.id,
                identity_id=linked.identity_id,
                provider_sid=linked.provider_sid,
            )
        )
        db.session.flush()


def end_for_provider_logout(
    issuer: str, *, subject: str | None, provider_sid: str | None
) -> tuple[list[int], int]:
    """End the live Postern sessions a provider's logout names: those opened through its
    session ``provider_sid`` when it gives one (and, with a subject too, only that subject's),
    else every session the subject opened through this issuer. Returns the staff users
    concerned and how many sessions ended. Caller commits."""
    query = (
        select(SsoSession.staff_session_id, SsoIdentity.user_id)
        .join(SsoIdentity, SsoIdentity.id == SsoSession.identity_id)
        .join(StaffSession, StaffSession.id == SsoSession.staff_session_id)
        .where(SsoIdentity.issuer == issuer, StaffSession.ended_at.is_(None))
    )
    if provider_sid:
        query = query.where(SsoSession.provider_sid == provider_sid)
    if subject:
        query = query.where(SsoIdentity.subject == subject)
    rows = db.session.execute(query).all()
    if not rows:
        return [], 0
    # One conditional UPDATE: every app process sees these sessions ended on its next request.
    result = db.session.execute(
        update(StaffSession)
        .where(StaffSession.id.in_([row[0] for row in rows]), StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason="provider_logout")
    )
    return sorted({user_id for _session, user_id in rows}), result.rowcount or 0


def first_use_of_logout_token(issuer: str, token_id: str, *, keep_for: timedelta) -> bool:
    """Remember logout token ``token_id`` (its ``jti``) of ``issuer``; False if it was seen
    before. Atomic across processes (a unique constraint, not a read-then-write). Forgets
    tokens older than ``keep_for``, which by then fail the age check anyway. Caller commits."""
    now = utcnow()
    db.session.execute(delete(SsoLogoutToken).where(SsoLogoutToken.received_at < now - keep_for))
    # Hashed: a jti has no length limit, and is the provider's, not ours to keep verbatim.
    digest = hashlib.sha256(f"{issuer}\n{token_id}".encode()).hexdigest()
    try:
        with db.session.begin_nested():
            db.session.add(SsoLogoutToken(token_hash=digest, received_at=now))
    except IntegrityError:
        return False
    return True
