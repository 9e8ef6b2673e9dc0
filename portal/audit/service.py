"""Appending audit rows.

``record`` adds a row to the *current* transaction, so an action and its audit row commit or
roll back together. The row is held in the session until the transaction commits, then written
with the transaction's other rows in one statement to ``audit_pending`` (``pending``): it is not
linked into the chain there and then. Linking needs the chain's tail, and reading the tail
safely means one writer at a time; the chain lock every audited action in every process used to
queue behind is therefore gone from the request. The sealer (``portal.audit.sealer``) links
pending rows into ``audit_events`` in the order they committed, usually within a second.

``AUDIT_SEAL`` = "inline" (development and tests) seals in the committing transaction itself,
under the sealer's lock, so the chain is complete whenever a transaction has committed; a single
process on SQLite loses nothing by it. "worker" (production) leaves sealing to
``flask audit seal``.

Readers that must not miss a row committed a moment ago read ``portal.audit.trail`` (the chain
and the pending rows together); the listeners (``AUDIT_LISTENERS``) are told of each row as
``record`` takes it, in the action's transaction.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.audit.actors import Actor
from portal.card_numbers import mask_pans
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.types import utcnow

#: ``app.extensions`` key of the callables told of every row ``record`` takes (in its
#: transaction, before it commits): set by ``portal.init_outbound_webhooks`` and the metrics.
AUDIT_LISTENERS = "postern.audit_listeners"
#: ``session.info`` key: [(transaction, row)] recorded and not yet written.
_HELD = "postern.audit_held"
#: ``session.info`` key: [(transaction, row)] written early (``write_held``), not yet committed.
_WRITTEN = "postern.audit_written"
INLINE = "inline"
WORKER = "worker"


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
    """Add one audit row to the current transaction and return it.

    ``actor`` says who acted and from where (``portal.audit.actors``). ``details`` must hold
    nothing personal: ids, counts, reason codes. The caller commits; the row is written then.
    The row returned is not in the session: its ``seq`` is None until it is sealed (at once,
    on commit, with ``AUDIT_SEAL`` = "inline").
    """
    row = AuditEvent(
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
    session = db.session()  # the Session itself: the scoped proxy lacks some of its API
    session.info.setdefault(_HELD, []).append((_innermost_transaction(session), row))
    _tell_listeners(row)
    return row


def _tell_listeners(row: AuditEvent) -> None:
    """Hand the new row to each listener, in this same transaction: what follows from an
    action (an outbound webhook event, ``portal.hooks``) then commits or rolls back with it.
    Audit knows its listeners only by this key, so it imports none of them."""
    for listener in current_app.extensions.get(AUDIT_LISTENERS, ()):
        listener(row)


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


def reference(row: AuditEvent) -> str:
    """How another row may name ``row``: its ``seq`` once sealed, else its lane and number
    ("lane 3 #1042"), which the sealed row keeps (``lane``, ``lane_seq``)."""
    if row.seq is not None:
        return str(row.seq)
    return f"lane {row.lane} #{row.lane_seq}"


def seal_mode() -> str:
    return current_app.config.get("AUDIT_SEAL", INLINE)


def _innermost_transaction(session):
    # Begun here if nothing has used the session yet, as its first query would have.
    return session.get_nested_transaction() or session.get_transaction() or session.begin()


def _within(transaction, ancestor) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def write_held(session: Session) -> None:
    """Write the rows this transaction has recorded so far to the pending table now, as the
    ORM's autoflush does before a query: ``portal.audit.trail`` calls it, so a reader sees the
    rows its own transaction recorded (the data-subject export lists its own row). Not inside
    a savepoint: rolling that back would take rows of the transaction around it along, so they
    wait for the commit."""
    if session.get_nested_transaction() is not None:
        return
    rows = _take_held(session)
    if rows:
        from portal.audit import pending

        pending.write(session, rows)
        root = session.get_transaction()
        session.info.setdefault(_WRITTEN, []).extend((root, row) for row in rows)


def _take_held(session: Session, key: str = _HELD) -> list[AuditEvent]:
    """The rows under ``key`` that belong to the transaction now in progress (removed)."""
    held = session.info.pop(key, None)
    root = session.get_transaction()
    return [row for transaction, row in held or () if _within(transaction, root)]


@event.listens_for(Session, "before_commit")
def _write_held_rows(session: Session) -> None:
    """Write the rows this transaction recorded to the pending table (and, inline, seal).

    SQLAlchemy also fires ``before_commit`` when a savepoint is released. The rows wait for the
    real commit then: written inside the savepoint, they would go with it if its last flush
    failed, and the action around it would commit with no audit row (as ``write_held``)."""
    if session.get_nested_transaction() is not None:
        return
    rows = _take_held(session)
    written = _take_held(session, _WRITTEN)
    if not rows and not written:
        return
    # Imported here: the sealer imports this module for chain_key and the mode.
    from portal.audit import pending, sealer

    if rows:
        pending.write(session, rows)
    if seal_mode() == INLINE:
        sealer.seal(session, written + rows, limit=None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction) -> None:
    # A rolled-back transaction or savepoint takes the rows recorded in it along.
    for key in (_HELD, _WRITTEN):
        kept = session.info.get(key)
        if kept:
            session.info[key] = [
                (transaction, row)
                for transaction, row in kept
                if not _within(transaction, previous_transaction)
            ]
