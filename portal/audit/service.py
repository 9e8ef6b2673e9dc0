"""Appending audit rows.

``record`` adds a row to the *current* transaction, so an action and its audit row commit or
roll back together. Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock,
everywhere by the unique ``seq`` and ``prev_hash`` columns (a savepoint retry covers the race
the lock does not, on SQLite).

A transaction that appends several rows (creating a request writes three) takes the lock and
reads the chain's tail once: while it holds the lock, or on SQLite once it has written, no one
else can append, so the tail it wrote last is still the tail. That keeps the lock, which every
audited action in every process waits for, held for as few round trips as possible.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.audit.actors import Actor
from portal.audit.chain import compute_hash
from portal.card_numbers import mask_pans
from portal.extensions import db
from portal.models.audit import GENESIS_HASH, AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.types import utcnow

_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
#: An arbitrary constant naming "the audit chain" among advisory locks.
AUDIT_LOCK_KEY = 7_406_301_101
_MAX_ATTEMPTS = 5
#: ``session.info`` key: (transaction, seq, row_hash) of the last row this transaction appended.
_TAIL = "postern.audit_tail"


def chain_key() -> bytes:
    return current_app.config["AUDIT_CHAIN_KEY"].encode()


def record(
    action: str,
    *,
    actor: Actor,
    outcome: str = "success",
    target_type: str | None = None,
    target_id: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row to the current transaction and return it (flushed, not committed).

    ``actor`` says who acted and from where (``portal.audit.actors``). ``details`` must hold
    nothing personal: ids, counts, reason codes. The caller commits.
    """
    session = db.session()  # the Session itself: the scoped proxy lacks some of its API
    for attempt in range(_MAX_ATTEMPTS):
        known = _known_tail(session)
        tail = known or _lock_and_read_tail(session)
        event = AuditEvent(
            seq=tail[0] + 1,
            prev_hash=tail[1],
            occurred_at=utcnow(),
            actor_id=actor.id,
            actor_label=actor.label,
            actor_role=actor.role,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            outcome=outcome,
            ip=actor.origin.ip,
            user_agent=_masked(actor.origin.user_agent),
            details=_masked(details or {}),
        )
        event.row_hash = compute_hash(event, chain_key())
        if known or _is_postgresql(session):
            # Nobody else can append now (see the module's docstring): no race to retry.
            session.add(event)
            session.flush()
        else:
            try:
                with session.begin_nested():
                    session.add(event)
            except IntegrityError:
                if attempt == _MAX_ATTEMPTS - 1:
                    raise
                continue
        session.info[_TAIL] = (_innermost_transaction(session), event.seq, event.row_hash)
        return event
    raise RuntimeError("unreachable")  # pragma: no cover


def _masked(value: Any) -> Any:
    """``value`` with every card number in its text masked, through dicts and lists.

    Details hold ids, counts and reason codes, and the client's User-Agent is masked where it is
    read (``portal.security.actors``); but a row cannot be taken out of the chain once written,
    so whatever a caller passes, no card number reaches it.
    """
    if isinstance(value, str):
        return mask_pans(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def record_for(
    capture_request: CaptureRequest | str,
    action: str,
    actor: Actor,
    *,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """``record`` a row about one capture request (the request, or its public id when only
    that is at hand): rows name it by its public id, the id its link and every page carry,
    under target type "capture_request"."""
    public_id = capture_request if isinstance(capture_request, str) else capture_request.public_id
    return record(
        action,
        actor=actor,
        outcome=outcome,
        target_type="capture_request",
        target_id=public_id,
        details=details,
    )


def _is_postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _innermost_transaction(session):
    return session.get_nested_transaction() or session.get_transaction()


def _known_tail(session) -> tuple[int, str] | None:
    """(seq, row_hash) of the row this same transaction appended last, if it still stands."""
    known = session.info.get(_TAIL)
    if known is None or known[0] is not _innermost_transaction(session):
        return None
    return known[1], known[2]


def _lock_and_read_tail(session) -> tuple[int, str]:
    if _is_postgresql(session):
        session.execute(_ADVISORY_LOCK, {"key": AUDIT_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (last.seq, last.row_hash) if last else (0, GENESIS_HASH)


@event.listens_for(Session, "after_soft_rollback")
def _forget_tail(session, previous_transaction) -> None:
    # A rolled-back savepoint may have taken an appended row (and, on PostgreSQL, the lock)
    # with it: read the tail again under the lock next time.
    session.info.pop(_TAIL, None)
