"""One agent's stream of panels, as Server-Sent Events, for as long as their session lives.

Events (``event:`` names; ``data:`` one line of JSON or words):

- ``ready``: listening; the console polls once, to catch anything that changed before;
- ``panel``: a panel that changed, exactly as ``/agent/api/requests`` would give it;
- ``ended``: the session ended (the reason code); the console stops and says so;
- ``resync``: notifications may have been missed (the listener reconnected, the account
  changed): the console polls and opens a new stream.

PCI DSS 8.2.8: the stream is not activity (``portal.security.sessions`` treats the request as
background) and closes with ``ended`` on the session-ended notification, on the recheck that
runs at least every ``LIVE_PUSH_RECHECK_SECONDS`` (at most 60), and at the idle or absolute
deadline, ending the session in the database as the next request would.

Between events the stream holds no database connection: each check or panel read takes one
from the pool for its own short app context.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from portal.capture.visibility import visible_to
from portal.extensions import db
from portal.live_push.hub import Hub, Viewer
from portal.live_status.panel import panels, with_deliveries
from portal.models.capture import CaptureRequest
from portal.models.staff import StaffSession
from portal.models.types import utcnow
from portal.security.authz import Permission, has_permission, mfa_required
from portal.security.sessions import end_reason, end_session

#: Never trust a session longer than this without reading it again, whatever is configured.
_RECHECK_CEILING_SECONDS = 60.0
#: How long a new stream waits for its process's listening connection before giving up.
_LISTEN_WAIT_SECONDS = 5.0
#: A deadline is acted on this long after it passed, so the rules' strict ">" agree.
_DEADLINE_MARGIN = timedelta(milliseconds=50)


def event(name: str, data: str = "") -> str:
    """One Server-Sent Event (``data`` must hold no newline: JSON or plain words)."""
    return f"event: {name}\ndata: {data}\n\n"


def viewer_for(user, row: StaffSession) -> Viewer:
    """The stream's view of a signed-in user and their session row."""
    return Viewer(
        id=user.id,
        role=user.role,
        team_id=user.team_id,
        session_id=row.id,
        sees_team=has_permission(user.role, Permission.CAPTURE_VIEW_TEAM),
    )


def deadline_of(row: StaffSession, config) -> datetime:
    """When ``row`` times out unless the agent is active again elsewhere (idle or absolute)."""
    return min(
        row.last_seen_at + config["SESSION_IDLE_TIMEOUT"],
        row.created_at + config["SESSION_ABSOLUTE_LIFETIME"],
    )


def check_session(app: Flask, viewer: Viewer) -> tuple[str | None, datetime | None]:
    """(why the stream must end, or None; the session's deadline). Ends a timed-out session
    in the database, as ``load_session`` would on the agent's next request. A changed role or
    team answers ``changed``: the stream closes and the console opens one under the new
    rights."""
    with app.app_context():
        row = db.session.execute(
            select(StaffSession)
            .join(StaffSession.user)
            .options(contains_eager(StaffSession.user))
            .where(StaffSession.id == viewer.session_id)
        ).scalar_one_or_none()
        if row is None:
            return "ended", None
        if row.ended_at is not None:
            return row.end_reason or "ended", None
        user, now = row.user, utcnow()
        reason = end_reason(row, user, now, app.config)
        if reason:
            end_session(row.id, reason, now)
            db.session.commit()
            return reason, None
        if (user.role, user.team_id) != (viewer.role, viewer.team_id) or not (
            row.mfa_verified and has_permission(user.role, Permission.CAPTURE_VIEW_OWN)
        ):
            return "changed", None
        # The gate every page request passes (``portal.security.guards``): a password to change,
        # or a second factor the role needs and the account lost, closes the stream too.
        if user.password_must_change or (mfa_required(user.role) and not user.has_second_factor):
            return "changed", None
        return None, deadline_of(row, app.config)


def read_panels(app: Flask, viewer: Viewer, request_ids: set[int]) -> list[str]:
    """The panels of ``request_ids`` that ``viewer`` may see (the poll's own WHERE clause),
    as JSON lines; the others are simply absent."""
    with app.app_context():
        found = list(
            db.session.execute(
                select(CaptureRequest)
                .where(CaptureRequest.id.in_(sorted(request_ids)), visible_to(viewer))
                .options(with_deliveries())
            ).scalars()
        )
        return [json.dumps(panel, sort_keys=True, separators=(",", ":")) for panel in panels(found)]


def events(app: Flask, hub: Hub, viewer: Viewer, deadline: datetime) -> Iterator[str]:
    """The stream's body. Ends by itself (``ended``/``resync``); a client that goes away
    closes it at the next write (a keep-alive comment at the latest)."""
    config = app.config
    heartbeat = float(config["LIVE_PUSH_HEARTBEAT_SECONDS"])
    recheck = min(float(config["LIVE_PUSH_RECHECK_SECONDS"]), _RECHECK_CEILING_SECONDS)
    subscription = hub.subscribe(viewer)
    try:
        if not hub.wait_listening(_LISTEN_WAIT_SECONDS):
            yield event("resync", "unavailable")
            return
        yield event("ready")
        next_check = time.monotonic() + recheck
        next_beat = time.monotonic() + heartbeat
        while True:
            until_deadline = (deadline + _DEADLINE_MARGIN - utcnow()).total_seconds()
            now = time.monotonic()
            changed, staff_changed, lost = subscription.wait(
                min(next_check - now, next_beat - now, until_deadline)
            )
            if lost:
                yield event("resync", "reconnect")
                return
            if staff_changed or time.monotonic() >= next_check or utcnow() >= deadline:
                reason, deadline = check_session(app, viewer)
                if reason == "changed":
                    yield event("resync", "changed")
                    return
                if reason is not None:
                    yield event("ended", reason)
                    return
                next_check = time.monotonic() + recheck
            sent = False
            if changed:
                for panel in read_panels(app, viewer, changed):
                    yield event("panel", panel)
                    sent = True
            if sent:
                next_beat = time.monotonic() + heartbeat
            elif time.monotonic() >= next_beat:
                yield ": keep-alive\n\n"
                next_beat = time.monotonic() + heartbeat
    finally:
        hub.unsubscribe(subscription)
