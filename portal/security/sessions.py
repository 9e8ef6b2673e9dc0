"""Server-side staff sessions behind a cookie that holds only a random token.

The token is 256 random bits; the database keeps only its SHA-256, so a database reader cannot
hijack a session. A new token is issued at every login step (session id rotation), idle and
absolute timeouts are enforced on every request, and ending a session is a database update, so
every app process sees it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, request, session
from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager

from portal.extensions import db
from portal.models.staff import StaffSession, StaffUser
from portal.models.types import utcnow
from portal.security.actors import client_origin
from portal.security.devices import describe_device

_COOKIE_KEY = "sid"
#: Header the console's scripts send on automatic polls (see static/js/agent/console.js).
BACKGROUND_HEADER = "X-Postern-Background"
#: Why this browser's last session ended, kept until the sign-in page has said so.
_ENDED_KEY = "ended"
#: ``app.extensions`` key of the callables told ``(old_row, new_row)`` when a session is
#: replaced by its fully authenticated successor, so that what other packages keep about a
#: session (single sign-on's link to the provider's session) follows it. Listeners do not
#: commit.
SESSION_REPLACED_LISTENERS = "postern.session_replaced_listeners"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: StaffUser, *, mfa_verified: bool) -> StaffSession:
    """Create a new session row for ``user`` and put its fresh token in the cookie.

    Whatever the cookie held before is discarded first (rotation: a session fixation attempt
    with a planted cookie gets nothing). The caller commits.
    """
    end_current_session("rotated")
    session.clear()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = StaffSession(
        token_hash=_hash_token(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        authenticated_at=now,
        mfa_verified=mfa_verified,
        # What the person sees on their account page to recognise (and end) this session.
        device=describe_device(request.user_agent.string),
        ip_address=client_origin().ip,
    )
    db.session.add(row)
    db.session.flush()
    session[_COOKIE_KEY] = token
    session.permanent = False
    return row


@dataclass(frozen=True)
class CurrentStaff:
    """The signed-in staff member as pages see them: plain values, copied when the session was
    loaded. The database row itself expires at every commit or rollback and would be read again
    from the database on its next use, which an error page cannot afford."""

    username: str
    display_name: str
    role: str
    #: The account's id: with the username and role, what audit rows name the actor by.
    id: int

    @classmethod
    def of(cls, user) -> CurrentStaff | None:
        """A copy of ``user``'s (a loaded ``StaffUser``) values; None when nobody is signed in."""
        if user is None:
            return None
        return cls(user.username, user.display_name, user.role, user.id)


@dataclass
class LoadedSession:
    row: StaffSession | None
    user: StaffUser | None
    #: Why an existing session was just ended ("idle_timeout", ...), for a friendly message.
    ended_reason: str | None = None


def _end(row: StaffSession, reason: str, now: datetime) -> None:
    end_session(row.id, reason, now)


def end_reason(row: StaffSession, user: StaffUser, now: datetime, config) -> str | None:
    """Why the live session ``row`` of ``user`` must end now ("idle_timeout", ...), or None.
    The one statement of the rules: every request applies them, and so does an open live
    panel stream (``portal.live_push``), which sends no requests of its own."""
    if not user.is_active:
        return "account_disabled"
    if now - row.last_seen_at > config["SESSION_IDLE_TIMEOUT"]:
        return "idle_timeout"
    if now - row.created_at > config["SESSION_ABSOLUTE_LIFETIME"]:
        return "absolute_timeout"
    if not row.mfa_verified and now - row.created_at > config["MFA_PENDING_LIFETIME"]:
        return "mfa_timeout"
    return None


def end_session(row_id: int, reason: str, now: datetime) -> None:
    """Mark the session ``row_id`` ended for ``reason`` unless it already is. Caller commits."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.id == row_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def load_session() -> LoadedSession:
    """Return the live session named by the cookie, ending it if it has timed out.

    Never raises for a bad, unknown or ended token: that is simply "not logged in".
    """
    token = session.get(_COOKIE_KEY)
    if not isinstance(token, str):
        return LoadedSession(None, None)
    # One round trip for the session and its user: this runs on every staff request, polls
    # included, and a lazy load of ``row.user`` would be a second query each time.
    row = db.session.execute(
        select(StaffSession)
        .join(StaffSession.user)
        .options(contains_eager(StaffSession.user))
        .where(StaffSession.token_hash == _hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        reason = row.end_reason if row is not None else None
        _forget_token(reason)
        return LoadedSession(None, None, reason)
    config, now = current_app.config, utcnow()
    user = row.user
    reason = end_reason(row, user, now, config)
    if reason:
        _end(row, reason, now)
        db.session.commit()
        _forget_token(reason)
        return LoadedSession(None, None, reason)
    if not _is_background_poll() and now - row.last_seen_at > config["SESSION_TOUCH_INTERVAL"]:
        db.session.execute(
            update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now)
        )
        db.session.commit()
    return LoadedSession(row, user)


def cookie_token_hash() -> str | None:
    """The stored form of the session token this request's cookie holds, or None. For the
    status poll's fast path (``portal.agent.fast_status``), which finds the session in the
    same statement as the panel's version."""
    token = session.get(_COOKIE_KEY)
    return _hash_token(token) if isinstance(token, str) else None


def is_background_request() -> bool:
    """Whether this request is one a page made by itself (``_is_background_poll``)."""
    return _is_background_poll()


def _is_background_poll() -> bool:
    """True for requests a page makes by itself (the console's status polling).

    They must not count as activity: an unattended console would otherwise never reach the
    15-minute idle timeout (PCI DSS 8.2.8).
    """
    # The live panel's stream (EventSource) can send no header of its own, but always asks
    # for text/event-stream: it is no more the agent's activity than a poll is.
    return (
        request.headers.get(BACKGROUND_HEADER) == "poll"
        or request.headers.get("Accept") == "text/event-stream"
    )


def _forget_token(reason: str | None) -> None:
    # The request that finds a session ended is usually redirected to the sign-in page, which
    # runs as a second request: the reason travels there in the cookie.
    session.pop(_COOKIE_KEY, None)
    if reason:
        session[_ENDED_KEY] = reason


def pop_end_reason() -> str | None:
    """Why this browser's last session ended ("idle_timeout", ...), once; None if unknown."""
    return session.pop(_ENDED_KEY, None)


def end_current_session(reason: str) -> None:
    """End the session named by the cookie, if any, and forget the cookie. Caller commits."""
    token = session.pop(_COOKIE_KEY, None)
    if isinstance(token, str):
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == _hash_token(token), StaffSession.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason)
        )


def end_user_sessions(user_id: int, reason: str, *, keep: StaffSession | None = None) -> int:
    """End every live session of ``user_id`` except ``keep``; return how many. Caller commits."""
    query = update(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep.id)
    result = db.session.execute(query.values(ended_at=utcnow(), end_reason=reason))
    return result.rowcount or 0


def live_sessions(user_id: int) -> list[StaffSession]:
    """``user_id``'s sessions that would still let a request in (not ended, not past the idle or
    absolute timeout), newest sign-in first."""
    config, now = current_app.config, utcnow()
    return list(
        db.session.execute(
            select(StaffSession)
            .where(
                StaffSession.user_id == user_id,
                StaffSession.ended_at.is_(None),
                StaffSession.last_seen_at > now - config["SESSION_IDLE_TIMEOUT"],
                StaffSession.created_at > now - config["SESSION_ABSOLUTE_LIFETIME"],
            )
            .order_by(StaffSession.created_at.desc(), StaffSession.id.desc())
        ).scalars()
    )


def mark_mfa_verified(row: StaffSession) -> StaffSession:
    """Replace a password-only session by a fully authenticated one (a new id again)."""
    user = row.user
    new_row = start_session(user, mfa_verified=True)
    for listener in current_app.extensions.get(SESSION_REPLACED_LISTENERS, ()):
        listener(row, new_row)
    return new_row
