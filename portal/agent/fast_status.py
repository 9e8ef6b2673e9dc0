"""The status poll's fast path: one statement for the session, the request and its version.

A console polls each panel every 1.5 s, and nearly every answer is "not modified". The full
path spends five round trips on one: the session row, the request with its messages, and the
payment's three. Here one statement (``LOOKUP``) reads the staff session and its account (by
the cookie's token hash), the request the account may see (the poll's own rules:
``capture.visibility``), and the panel's version (``live_status.version``). The session rules
are then applied to that row by the very function every request applies
(``sessions.end_reason``), and the blueprint gate's rules by its own functions.

If all is as usual, the answer comes from here: 304 when the version matches the poll's ETag
(no panel built), else the panel, built from the request alone. Anything unusual (no cookie, no
session, a session that must end or be touched, a second factor missing, a password to change,
no such request, a link that lapsed and must be written "expired") returns None and the full
path answers, exactly as before, so the answers and the session's fate never differ.

PostgreSQL only; SQLite always takes the full path.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask import Response, current_app, jsonify, request
from sqlalchemy import select, text
from sqlalchemy.orm import joinedload

from portal.capture import public_ids
from portal.extensions import db
from portal.live_status import version
from portal.live_status.panel import panels, with_deliveries
from portal.models.capture import CaptureRequest
from portal.models.types import utcnow
from portal.security.authz import ROLE_PERMISSIONS, Permission, has_permission, mfa_required
from portal.security.sessions import cookie_token_hash, end_reason, is_background_request

#: Roles that also see their team's requests (``visibility.visible_to``), for the SQL below.
_TEAM_ROLES = [
    str(getattr(role, "value", role))
    for role, granted in ROLE_PERMISSIONS.items()
    if Permission.CAPTURE_VIEW_TEAM in granted
]

_LOOKUP_SQL = """
WITH viewer AS (
    SELECT s.id AS session_id, s.ended_at, s.last_seen_at, s.created_at, s.mfa_verified,
           u.id AS user_id, u.is_active, u.role, u.team_id, u.mfa_enabled,
           u.password_must_change
    FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id
    WHERE s.token_hash = :token_hash
), t AS (
    SELECT cr.id, cr.status, cr.expires_at, cr AS whole
    FROM capture_requests cr CROSS JOIN viewer v
    WHERE cr.public_id = ANY(:candidates)
      AND (cr.created_by_id = v.user_id
           OR (v.role = ANY(:team_roles) AND cr.team_id = v.team_id))
    ORDER BY length(cr.public_id)
    LIMIT 1
)
SELECT viewer.*, t.id AS request_id, t.status AS request_status,
       t.expires_at AS request_expires_at, VERSION AS version
FROM viewer LEFT JOIN t ON true
"""
#: Two constants put together once, at import: no value from outside reaches the SQL text.
LOOKUP = text(_LOOKUP_SQL.replace("VERSION AS version", version.VERSION_SQL + " AS version"))


def lookup(public_id: str, now: datetime) -> Mapping | None:
    """The poll's row for ``public_id`` (see ``LOOKUP``), or None without a session cookie."""
    token_hash = cookie_token_hash()
    candidates = list(public_ids.candidates(public_id))
    if token_hash is None or not candidates:
        return None
    found = db.session.execute(
        LOOKUP,
        {
            "token_hash": token_hash,
            "candidates": candidates,
            "team_roles": _TEAM_ROLES,
            "salt": version.salt(current_app.config),
        },
    ).first()
    return found._mapping if found is not None else None


class _Row:
    """The looked-up row read as ``end_reason`` reads a session and its account."""

    def __init__(self, row: Mapping) -> None:
        self.__dict__.update(row)


def usual(row: Mapping, now: datetime) -> bool:
    """True when the full path would do nothing here but answer: the session lives and needs
    no write, the gate lets the account through, and the request is visible and not lapsed."""
    config = current_app.config
    if row["ended_at"] is not None or row["request_id"] is None:
        return False
    seen = _Row(row)
    if end_reason(seen, seen, now, config) is not None:
        return False  # the full path ends it and answers 401
    if not is_background_request() and now - row["last_seen_at"] > config["SESSION_TOUCH_INTERVAL"]:
        return False  # the full path records the activity
    if not row["mfa_verified"] or row["password_must_change"]:
        return False
    if not row["mfa_enabled"] and mfa_required(row["role"]):
        return False
    if not has_permission(row["role"], Permission.CAPTURE_VIEW_OWN):
        return False
    return not version.lapsed(row["request_status"], row["request_expires_at"], now)


def answer(public_id: str) -> Response | None:
    """The poll's answer from the fast path, or None for the full path."""
    if not version.available(current_app.config):
        return None
    now = utcnow()
    row = lookup(public_id, now)
    if row is None or not usual(row, now):
        return None
    etag = version.etag_of(row["version"])
    if etag in request.if_none_match:
        response = not_modified()
    else:
        capture = (
            db.session.execute(
                select(CaptureRequest)
                .where(CaptureRequest.id == row["request_id"])
                .options(with_deliveries(joinedload))
            )
            .scalars()
            .unique()
            .one()
        )
        response = jsonify(panels([capture], now)[0])
    response.set_etag(etag)
    return response


def not_modified() -> Response:
    """A 304 as the poll has always sent it (headers included)."""
    response = jsonify()
    response.status_code = 304
    response.set_data(b"")
    return response


def version_etag(public_id: str) -> str | None:
    """For the full path: the ETag of the request's version, read before its panel is (a
    change in between then makes the next poll a 200, never a stale 304). None on SQLite or
    when nothing is found."""
    if not version.available(current_app.config):
        return None
    row = lookup(public_id, utcnow())
    if row is None or row["version"] is None:
        return None
    return version.etag_of(row["version"])
