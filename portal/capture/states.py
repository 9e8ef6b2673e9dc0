"""The capture-request state machine: the one place a request's status changes.

    created -> sent -> opened -> verified -> in_progress -> succeeded | failed
    (and expired, revoked, locked, declined on the way)

Every transition is one conditional UPDATE, ``... WHERE id = :id AND status IN (<allowed
sources>)``, so whichever process gets there first wins and everyone else's attempt simply
matches no row. A late or duplicate event (an "opened" after "verified", a second "expired")
therefore never moves a request backwards, and terminal states stay terminal.

``effective_status`` is the status as people should read it (a lapsed link reads "expired"
before anything has written that down): the one rule, here in Python and in SQL for queries
that filter or export on it, a test holding the two forms to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, or_, update

from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.types import utcnow


class Status(StrEnum):
    CREATED = "created"
    SENT = "sent"
    OPENED = "opened"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOCKED = "locked"
    #: The customer chose not to give the data asked for.
    DECLINED = "declined"


S = Status
#: Before the customer has proven who they are: the link may still be opened and bound.
NOT_YET_VERIFIED = frozenset({S.CREATED, S.SENT, S.OPENED})

#: target -> the statuses it may be reached from. Nothing else is allowed.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.SENT: frozenset({S.CREATED}),
    S.OPENED: frozenset({S.CREATED, S.SENT}),
    S.VERIFIED: NOT_YET_VERIFIED,
    S.IN_PROGRESS: frozenset({S.VERIFIED}),
    S.SUCCEEDED: frozenset({S.IN_PROGRESS}),
    S.FAILED: frozenset({S.VERIFIED, S.IN_PROGRESS}),
    S.DECLINED: frozenset({S.VERIFIED}),
    # A payment in progress is never expired or revoked from under the customer: its outcome
    # comes from the payment provider, and a late "succeeded" must not meet a closed request.
    S.EXPIRED: NOT_YET_VERIFIED | {S.VERIFIED},
    S.REVOKED: NOT_YET_VERIFIED | {S.VERIFIED},
    S.LOCKED: NOT_YET_VERIFIED,
}

TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED, S.REVOKED, S.LOCKED, S.DECLINED})
#: Statuses that lapse when ``expires_at`` passes.
EXPIRABLE = TRANSITIONS[S.EXPIRED]

#: The timestamp column each target status stamps, if any.
_STAMPS = {
    S.SENT: "sent_at",
    S.OPENED: "opened_at",
    S.VERIFIED: "verified_at",
    S.IN_PROGRESS: "started_at",
}


def can_transition(source: str, target: Status) -> bool:
    return source in TRANSITIONS[target]


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def transition(
    request: CaptureRequest,
    target: Status,
    *,
    where: Iterable[ColumnElement[bool]] = (),
    now: datetime | None = None,
    **values: Any,
) -> bool:
    """Move ``request`` to ``target`` if its status in the database allows it, atomically.

    ``where`` adds conditions (e.g. "not yet past its expiry"); ``values`` sets more columns in
    the same UPDATE. Returns True if this call made the change, False if the request was not in
    an allowed status (or a ``where`` condition failed) - in which case nothing changed. The
    in-memory object is expired (the columns set, or all of it after a refusal) so the next
    attribute access reads the database. Joins the current transaction; the caller commits.
    """
    now = now or utcnow()
    changes: dict[str, Any] = {"status": target.value, "updated_at": now, **values}
    if target in _STAMPS:
        changes.setdefault(_STAMPS[target], now)
    if target in TERMINAL:
        changes.setdefault("finished_at", now)
    statement = (
        update(CaptureRequest)
        .where(
            CaptureRequest.id == request.id,
            CaptureRequest.status.in_([s.value for s in TRANSITIONS[target]]),
            *where,
        )
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    moved = db.session.execute(statement).rowcount == 1
    # After a move only the columns it set are stale (so reading the public id for the audit
    # row costs no query); after a refusal anything may have changed under us.
    db.session.expire(request, list(changes) if moved else None)
    return moved


class Expiring(Protocol):
    """What a status as shown is read from: a CaptureRequest, or a row of its columns."""

    status: str
    expires_at: datetime


def effective_status(request: Expiring, now: datetime | None = None) -> Status:
    """The status as people should read it as of ``now``, wherever it is shown (the agent's
    panel, the back office, the export): an expirable request past its expiry reads as
    expired even before ``mark_expired_if_due`` has written that down.

    ``effective_status_sql`` and ``effective_status_filter`` are the same rule in SQL.
    """
    status = Status(request.status)
    if status in EXPIRABLE and request.expires_at <= (now or utcnow()):
        return S.EXPIRED
    return status


def _lapsed_sql(now: datetime) -> ColumnElement[bool]:
    """Requests ``effective_status`` reads as expired though their stored status says otherwise."""
    return and_(
        CaptureRequest.status.in_([s.value for s in EXPIRABLE]), CaptureRequest.expires_at <= now
    )


def effective_status_sql(now: datetime) -> ColumnElement[str]:
    """``effective_status`` as a column of a SELECT (the export that PostgreSQL writes)."""
    return case((_lapsed_sql(now), S.EXPIRED.value), else_=CaptureRequest.status)


def effective_status_filter(status: str, now: datetime) -> ColumnElement[bool]:
    """A WHERE condition: requests whose ``effective_status`` is ``status`` (a lapsed link is
    found under "expired", not under the status still stored). Written on the stored columns,
    not as ``effective_status_sql(now) == status``, so that their indexes can serve it."""
    if status == S.EXPIRED:
        return or_(CaptureRequest.status == S.EXPIRED.value, _lapsed_sql(now))
    if status in EXPIRABLE:
        return and_(CaptureRequest.status == status, CaptureRequest.expires_at > now)
    return CaptureRequest.status == status


def mark_expired_if_due(request: CaptureRequest, now: datetime | None = None) -> bool:
    """Persist ``expired`` if the request's time is up; True if this call did it. The status
    only: nothing is audited and no message is stopped. Readers call
    ``portal.capture.service.expire_if_due``, which does both."""
    now = now or utcnow()
    if effective_status(request, now) is not S.EXPIRED or request.status == S.EXPIRED:
        return False
    return transition(
        request,
        S.EXPIRED,
        where=[CaptureRequest.expires_at <= now],
        now=now,
        status_reason="time_limit",
    )
