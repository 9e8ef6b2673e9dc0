"""Appending audit rows.

``record`` adds a row to the *current* transaction, so an action and its audit row commit or
roll back together. Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock,
everywhere by the unique ``seq`` and ``prev_hash`` columns (a savepoint retry covers the rare race
the lock does not, e.g. on SQLite).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context, request
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal.audit.chain import compute_hash
from portal.extensions import db
from portal.models.audit import GENESIS_HASH, AuditEvent
from portal.models.types import utcnow

_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
#: An arbitrary constant naming "the audit chain" among advisory locks.
AUDIT_LOCK_KEY = 7_406_301_101
_MAX_ATTEMPTS = 5


class Actor:
    """Who did it, when it was not the logged-in staff member (the system, a customer)."""

    def __init__(self, label: str, actor_id: int | None = None, role: str | None = None):
        self.label, self.id, self.role = label, actor_id, role


SYSTEM = Actor("system")
CUSTOMER = Actor("customer")


def chain_key() -> bytes:
    return current_app.config["AUDIT_CHAIN_KEY"].encode()


def _request_origin() -> tuple[str | None, str | None]:
    if not has_request_context():
        return None, None
    return request.remote_addr, (request.user_agent.string or "")[:255] or None


def _default_actor() -> Actor:
    user = g.get("staff_user") if has_request_context() else None
    if user is not None:
        return Actor(user.username, user.id, user.role)
    return SYSTEM


def record(
    action: str,
    *,
    outcome: str = "success",
    target_type: str | None = None,
    target_id: Any = None,
    details: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEvent:
    """Append one audit row to the current transaction and return it (flushed, not committed).

    ``details`` must hold nothing personal: ids, counts, reason codes. The caller commits.
    """
    who = actor or _default_actor()
    ip, user_agent = _request_origin()
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ADVISORY_LOCK, {"key": AUDIT_LOCK_KEY})
    for attempt in range(_MAX_ATTEMPTS):
        last = session.execute(
            select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        event = AuditEvent(
            seq=(last.seq + 1) if last else 1,
            prev_hash=last.row_hash if last else GENESIS_HASH,
            occurred_at=utcnow(),
            actor_id=who.id,
            actor_label=who.label,
            actor_role=who.role,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            outcome=outcome,
            ip=ip,
            user_agent=user_agent,
            details=details or {},
        )
        event.row_hash = compute_hash(event, chain_key())
        try:
            with session.begin_nested():
                session.add(event)
        except IntegrityError:
            if attempt == _MAX_ATTEMPTS - 1:
                raise
            continue
        return event
    raise RuntimeError("unreachable")  # pragma: no cover
