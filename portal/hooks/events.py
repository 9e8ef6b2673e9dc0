"""Events from one place: the audit trail.

Every domain action about a capture request is audited in its own transaction
(``portal.audit.record``), and audit tells its listeners of each row it appends
(``AUDIT_LISTENERS``). ``record_from_audit`` is ours: it maps the row to the event catalogue
and, in that same transaction, inserts the event and one delivery per enabled endpoint of the
request's team that subscribes to the type. The action and its event commit together or not
at all; the worker sends them later (``portal.hooks.worker``).

Events are recorded for the requests of every team with an integration: an enabled endpoint
that hears it, or an API key, whose ``GET /api/v1/requests/{id}/events`` reads them even with
no endpoint registered. A Postern with neither records none.

Cost when nobody listens: an action outside the catalogue costs a set look-up; one inside it
costs one query for the integrations (enabled endpoints, teams with a live API key), at most
once per transaction (cached in ``session.info``), and nothing more when there are none.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import null, select, union_all

from portal.extensions import db
from portal.hooks.catalogue import (
    ENTERED,
    FROM_AUDIT,
    INTERESTING_ACTIONS,
    LEFT,
    STEP_ENDED_BY,
    TEST_EVENT,
)
from portal.models.api_key import ApiKey
from portal.models.audit import AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.hooks import HookDelivery, HookEndpoint, HookEvent
from portal.models.types import utcnow

log = logging.getLogger("postern.hooks.events")

#: ``session.info`` key: (root transaction, Integrations).
_ENDPOINTS = "postern.hooks_endpoints"


@dataclass(frozen=True)
class Integrations:
    """Who hears about requests: enabled endpoints as (id, team_id or None for every team,
    subscribed types), and the teams holding a live API key."""

    endpoints: list[tuple[int, int | None, list[str]]]
    api_teams: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.endpoints or self.api_teams)


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def event_body(event: HookEvent, capture_request: CaptureRequest | None = None) -> dict[str, Any]:
    """The exact JSON object a delivery of ``event`` carries (Standard Webhooks' shape).

    The request's reference and interaction id are read from the request as it is now
    (``capture_request``, or looked up), never stored with the event: they can be personal,
    and erasure and the retention purge blank them on the request, so a later delivery, a
    replay or the API's event list carries them blank too."""
    data = dict(event.data or {})
    if "request" in data:
        if capture_request is None and event.capture_request_id is not None:
            capture_request = db.session.get(CaptureRequest, event.capture_request_id)
        data["request"] = {
            **data["request"],
            "reference": capture_request.reference if capture_request else None,
            "interaction_id": capture_request.interaction_id if capture_request else None,
        }
    return {
        "id": event.public_id,
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def events_for_request(capture_request: CaptureRequest) -> list[HookEvent]:
    """The events recorded about ``capture_request``, oldest first (recorded while its team
    has an integration: see the module's docstring)."""
    return list(
        db.session.execute(
            select(HookEvent)
            .where(HookEvent.capture_request_id == capture_request.id)
            .order_by(HookEvent.id)
        ).scalars()
    )


def forget_endpoints() -> None:
    """Drop this transaction's cached endpoint list (after an endpoint changed)."""
    db.session().info.pop(_ENDPOINTS, None)


def _integrations() -> Integrations:
    session = db.session()
    transaction = session.get_transaction()
    cached = session.info.get(_ENDPOINTS)
    if cached is not None and cached[0] is transaction:
        return cached[1]
    # One statement for both: an endpoint row has its id, an API key's row has none.
    rows = session.execute(
        union_all(
            select(HookEndpoint.id, HookEndpoint.team_id, HookEndpoint.event_types).where(
                HookEndpoint.enabled.is_(True)
            ),
            select(null(), ApiKey.team_id, null()).where(ApiKey.revoked_at.is_(None)),
        )
    ).all()
    found = Integrations(
        [(row[0], row[1], list(row[2] or [])) for row in rows if row[0] is not None],
        frozenset(row[1] for row in rows if row[0] is None),
    )
    session.info[_ENDPOINTS] = (transaction, found)
    return found


def record_from_audit(row: AuditEvent) -> None:
    """The audit listener: events (and deliveries) for ``row``, in its transaction.

    A failure here is logged and swallowed inside a savepoint: an outbound webhook must never
    undo the payment, refund or status change it reports. (The one query before it, the
    integrations, reads a table of ours the way every request does; it is not guarded.)
    """
    if row.target_type != "capture_request" or row.action not in INTERESTING_ACTIONS:
        return
    integrations = _integrations()
    if not integrations:
        return
    try:
        with db.session.begin_nested():
            _record(row, integrations)
    except Exception as problem:  # noqa: BLE001  (any failure: the action must stand)
        log.error(
            "webhook event for audit row %s (%s) not recorded: %s",
            row.seq,
            row.action,
            type(problem).__name__,
        )


def _request_facts(public_id: str):
    return db.session.execute(
        select(
            CaptureRequest.id,
            CaptureRequest.public_id,
            CaptureRequest.team_id,
            CaptureRequest.status,
            CaptureRequest.kind,
            CaptureRequest.currency,
        ).where(CaptureRequest.public_id == public_id)
    ).first()


def _record(row: AuditEvent, integrations: Integrations) -> None:
    request = _request_facts(row.target_id)
    if request is None:
        return
    listening = [e for e in integrations.endpoints if e[1] is None or e[1] == request.team_id]
    if not listening and request.team_id not in integrations.api_teams:
        return
    details = row.details or {}
    wanted: list[tuple[str, dict[str, Any]]] = []
    if row.action in FROM_AUDIT:
        event_type, build = FROM_AUDIT[row.action]
        specific = build(details)
        if row.action.startswith("refund.") and specific.get("refund"):
            specific["refund"]["currency"] = request.currency
        wanted.append((event_type, specific))
    for step in sorted(_open_steps(request.id) & STEP_ENDED_BY.get(row.action, frozenset())):
        wanted.append((LEFT, {"step": step, "because": row.action}))
    # Reference and interaction id are added when the body is built (``event_body``).
    summary = {"id": request.public_id, "status": request.status, "kind": request.kind}
    for event_type, specific in wanted:
        if event_type == ENTERED and specific["step"] in _open_steps(request.id):
            continue  # already on that step (a reload): the platform paused already
        event = HookEvent(
            public_id=new_event_id(),
            type=event_type,
            capture_request_id=request.id,
            capture_request_public_id=request.public_id,
            team_id=request.team_id,
            occurred_at=row.occurred_at,
            data={"request": summary, **specific},
        )
        db.session.add(event)
        db.session.flush()
        for endpoint_id, _team, types in listening:
            if event_type in types:
                queue_delivery(event, endpoint_id, row.occurred_at)
        db.session.flush()


def queue_delivery(event: HookEvent, endpoint_id: int, now: datetime) -> HookDelivery:
    """Add a delivery of ``event`` to endpoint ``endpoint_id``, due now, to the session."""
    window = timedelta(seconds=current_app.config["HOOKS_RETRY_WINDOW_SECONDS"])
    delivery = HookDelivery(
        event_id=event.id,
        endpoint_id=endpoint_id,
        capture_request_id=event.capture_request_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        give_up_at=now + window,
        created_at=now,
        updated_at=now,
    )
    db.session.add(delivery)
    return delivery


def _open_steps(capture_request_id: int) -> set[str]:
    """Sensitive steps entered and not yet left, from the request's own events."""
    rows = db.session.execute(
        select(HookEvent.type, HookEvent.data)
        .where(
            HookEvent.capture_request_id == capture_request_id,
            HookEvent.type.in_([ENTERED, LEFT]),
        )
        .order_by(HookEvent.id)
    ).all()
    open_steps: set[str] = set()
    for event_type, data in rows:
        step = (data or {}).get("step")
        (open_steps.add if event_type == ENTERED else open_steps.discard)(step)
    return open_steps


def create_test_event(endpoint: HookEndpoint) -> HookDelivery:
    """A test event for ``endpoint`` alone, due now (the back office's "Send a test event").
    Joins the current transaction; the caller commits."""
    now = utcnow()
    event = HookEvent(
        public_id=new_event_id(),
        type=TEST_EVENT,
        occurred_at=now,
        data={"message": "A test event from Postern. No action is needed."},
    )
    db.session.add(event)
    db.session.flush()
    delivery = queue_delivery(event, endpoint.id, now)
    db.session.flush()
    return delivery
