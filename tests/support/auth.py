"""Helpers for the staff sign-in tests: login rate limits lifted, a code that is always wrong,
staff and session rows, the session cookie, and a page as a person reads it."""

from __future__ import annotations

import html
import re
import time

import pyotp
from sqlalchemy import select, update

from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.staff import StaffSession, StaffUser
from tests.support.web import csrf_from

#: An app whose login rate limits stay out of the way of tests that count lockout failures.
NO_LOGIN_RATE_LIMITS = {
    "RATELIMIT_LOGIN_PER_ACCOUNT": "1000 per minute",
    "RATELIMIT_LOGIN_PER_IP": "1000 per minute",
}


def wrong_totp(user) -> str:
    """A six-digit code that is not valid for ``user`` in any step the server would accept."""
    totp = pyotp.TOTP(user.totp_secret)
    now = time.time()
    valid = {totp.at(now + offset * totp.interval) for offset in range(-3, 4)}
    return next(f"{n:06d}" for n in range(123456, 1_000_000) if f"{n:06d}" not in valid)


def audit_rows(app, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = list(db.session.execute(query).scalars())
        db.session.expunge_all()
        return rows


def staff_row(app, user_id: int) -> StaffUser:
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        db.session.expunge(user)
        return user


def update_staff(app, user_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(StaffUser).where(StaffUser.id == user_id).values(**values))
        db.session.commit()


def update_sessions(app, user_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(
            update(StaffSession).where(StaffSession.user_id == user_id).values(**values)
        )
        db.session.commit()


def session_rows(app, user_id: int) -> list[StaffSession]:
    with app.app_context():
        rows = list(
            db.session.execute(
                select(StaffSession)
                .where(StaffSession.user_id == user_id)
                .order_by(StaffSession.id)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def sid(client) -> str | None:
    """The session token the browser's cookie carries (None when signed out)."""
    with client.session_transaction() as cookie_session:
        return cookie_session.get("sid")


def token_for(client, page: str = "/login") -> str:
    return csrf_from(client.get(page).get_data(as_text=True))


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(without_tags).split())


def field_error(response, field_id: str) -> str:
    """The error message shown next to the field ``field_id`` (empty if none)."""
    match = re.search(
        rf'<p class="error-message" id="{re.escape(field_id)}-error">(.*?)</p>',
        response.get_data(as_text=True),
        re.S,
    )
    if not match:
        return ""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())
