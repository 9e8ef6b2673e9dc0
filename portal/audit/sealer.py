"""The sealer: links pending audit rows into the hash chain, in the order they committed.

One sealer at a time holds the chain (a transaction-scoped advisory lock on PostgreSQL; requests
never take it). Each batch reads the chain's tail and the pending rows that have committed, in
the order they were written, and for each row checks its HMAC and that it follows the last
sealed row of its lane; then it appends the rows to ``audit_events`` (``seq``, ``prev_hash``
and ``row_hash`` as always, plus the row's lane and number) and deletes them from
``audit_pending``, in one transaction. Rows whose transactions commit while a batch runs are in
the next one, so the chain follows commit order as closely as the batches are short.

A row whose HMAC does not match is never sealed: that would give an edited or forged row a
valid place in the chain. It stays pending, the sealer logs it (once a minute) and seals the rest;
``flask audit verify`` names it, and the age of the oldest pending row
(``postern_queue_oldest_age_seconds``, queue "audit_pending") raises the alert. A row that does
not follow the last sealed row of its lane (a pending row deleted before it was sealed, or
sealed rows deleted from the chain) is sealed all the same and logged: its lane and number are
hashed into the chain with it, so the gap stays visible to ``flask audit verify`` for good, and
the trail is not held up by it.

``flask audit seal`` runs it as a worker beside the others; with ``AUDIT_SEAL`` = "inline" the
committing transaction seals itself (``portal.audit.service``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from portal.audit.chain import compute_hash
from portal.audit.checkpoints import lanes_trimmed
from portal.audit.pending import CHAIN, CONTENT, PENDING, hash_ok
from portal.audit.service import chain_key
from portal.extensions import db
from portal.models.audit import GENESIS_HASH, AuditEvent

log = logging.getLogger("postern.audit.sealer")
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
#: An arbitrary constant naming "sealing the audit chain" among advisory locks.
SEAL_LOCK_KEY = 7_406_301_103
BATCH_SIZE = 500
_COMPLAINT_INTERVAL_SECONDS = 60
_last_complaint = {"at": 0.0}
#: ``app.extensions`` key: ids of pending rows this process found forged or edited, left out
#: of later batches so that such rows at the head of the queue cannot hold up those behind.
_REFUSED = "postern.audit_sealer_refused"
_MAX_REFUSED = 10_000


@dataclass(frozen=True)
class SealCounts:
    """One batch of the worker loop (``portal.workers``): ``claimed`` rows sealed, ``refused``
    left pending because their HMAC did not match."""

    claimed: int
    refused: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sealed": self.claimed, "refused": self.refused}


def seal(
    session: Session, written: list[AuditEvent] = (), limit: int | None = BATCH_SIZE
) -> SealCounts:
    """Seal up to ``limit`` pending rows (None: all) in ``session``'s transaction (the caller
    commits). Rows of ``written`` (this transaction's own, when sealing inline) get their
    ``seq``, ``prev_hash`` and ``row_hash``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": SEAL_LOCK_KEY})
    refused_ids = current_app.extensions.setdefault(_REFUSED, set())
    query = select(PENDING).order_by(PENDING.c.id).limit(limit)
    if refused_ids:
        query = query.where(PENDING.c.id.not_in(refused_ids))
    waiting = session.execute(query).all()
    if not waiting:
        return SealCounts(0)
    tail = session.execute(
        select(CHAIN.c.seq, CHAIN.c.row_hash).order_by(CHAIN.c.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (tail.seq, tail.row_hash) if tail else (0, GENESIS_HASH)
    lanes = _last_sealed(session, {row.lane for row in waiting})
    key = chain_key()
    sealed, ids, refused = [], [], 0
    for row in waiting:
        if not hash_ok(row, key):
            if len(refused_ids) < _MAX_REFUSED:
                refused_ids.add(row.id)
            refused += 1
            _complain(row, "does not match its HMAC (edited, or inserted by hand): left pending")
            continue
        gap = _gap(session, row, lanes[row.lane])
        if gap:
            _complain(row, gap + "; sealed with its number, so verify keeps reporting the gap")
        seq += 1
        chained = AuditEvent(
            seq=seq,
            prev_hash=prev_hash,
            lane=row.lane,
            lane_seq=row.lane_seq,
            **{name: getattr(row, name) for name in CONTENT},
        )
        chained.row_hash = prev_hash = compute_hash(chained, key)
        sealed.append(chained)
        ids.append(row.id)
        lanes[row.lane] = row.lane_seq
    if sealed:
        session.execute(insert(CHAIN).values([_values(row) for row in sealed]))
        session.execute(
            delete(PENDING)
            .where(PENDING.c.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        _number(written, sealed)
    return SealCounts(len(sealed), refused)


def _last_sealed(session: Session, lanes: set[int]) -> dict[int, int | None]:
    """The number of the last sealed row of each lane (None: none in the chain)."""
    found = dict(
        session.execute(
            select(CHAIN.c.lane, func.max(CHAIN.c.lane_seq))
            .where(CHAIN.c.lane.in_(lanes))
            .group_by(CHAIN.c.lane)
        ).all()
    )
    return {lane: found.get(lane) for lane in lanes}


def _gap(session: Session, row, last: int | None) -> str | None:
    if last is None:
        # A lane's first row is 1, or the one after the last that retention deleted with the
        # chain's start (anywhere, if the chain was trimmed before that was recorded).
        trimmed = lanes_trimmed(session)
        below = None if trimmed is None else trimmed.get(row.lane, 0)
        if below is None or row.lane_seq == below + 1:
            return None
        if row.lane_seq <= below:
            return "it is a row retention deleted (copied back or inserted)"
        return f"rows {below + 1}..{row.lane_seq - 1} of its lane are missing (deleted)"
    if row.lane_seq != last + 1:
        return f"it does not follow row #{last} of its lane (rows deleted, copied or inserted)"
    return None


def _values(row: AuditEvent) -> dict:
    return {column.name: getattr(row, column.name) for column in CHAIN.c if column.name != "id"}


def _number(written, sealed: list[AuditEvent]) -> None:
    by_place = {(row.lane, row.lane_seq): row for row in sealed}
    for row in written:
        match = by_place.get((row.lane, row.lane_seq))
        if match is not None:
            row.seq, row.prev_hash, row.row_hash = match.seq, match.prev_hash, match.row_hash


def _complain(row, problem: str) -> None:
    now = time.monotonic()
    if now - _last_complaint["at"] < _COMPLAINT_INTERVAL_SECONDS:
        return
    _last_complaint["at"] = now
    log.error(
        "audit sealer: pending row lane %s #%s: %s. Run flask audit verify and tell your "
        "security lead (docs/audit-trail.md)",
        row.lane,
        row.lane_seq,
        problem,
    )


def run_once(limit: int = BATCH_SIZE) -> SealCounts:
    """One batch in a transaction of its own, committed (the worker loop's step)."""
    session = db.session()
    try:
        counts = seal(session, limit=limit)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return counts
