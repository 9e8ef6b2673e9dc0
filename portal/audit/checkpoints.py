"""Deleting the oldest audit rows without losing the ability to verify the rest.

The audit trail is a hash chain: deleting its first rows leaves the first kept row linking to
a row that no longer exists. Each batch that deletes rows therefore records a checkpoint: the
``seq`` and ``row_hash`` of the first row kept, sealed with an HMAC under the audit chain key.
``verify_audit_chain`` starts from the newest checkpoint and insists the first kept row is
exactly the one named, so rows deleted by anyone else (at the start, in the middle or at the
end) are still detected, and a hand-made checkpoint does not verify.

On PostgreSQL ``audit_events`` refuses DELETE unless the transaction has set
``postern.audit_maintenance = 'on'`` as a member of the role ``postern_audit_maintainer``
(migration 0012); only ``trim_batch`` does, through ``portal.audit.maintenance`` (on the
retention job's own login when ``AUDIT_MAINTENANCE_DATABASE_URL`` is set), and only for that
batch's transaction. The newest audit row is never deleted: the next row appended links to it,
and the anchors of the chain's end (``portal.audit.anchors``) name it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from sqlalchemy import delete, func, select, text

from portal.audit.chain import VerifyResult, verify_chain
from portal.audit.maintenance import (
    MaintenanceRefused,
    enter_maintenance,
    is_postgresql,
    maintenance_session,
)
from portal.audit.service import chain_key
from portal.extensions import db
from portal.models.audit import AuditAnchor, AuditEvent
from portal.models.retention import AuditCheckpoint
from portal.models.types import utcnow

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
#: An arbitrary constant naming "retention is trimming the audit chain" among advisory locks.
TRIM_LOCK_KEY = 7_406_301_102


def seal_of(
    first_seq: int,
    first_row_hash: str,
    rows_deleted: int,
    created_at: datetime,
    lanes_trimmed: dict[str, int] | None = None,
) -> str:
    message = f"{first_seq}|{first_row_hash}|{rows_deleted}|{created_at.isoformat()}"
    if lanes_trimmed is not None:  # checkpoints from before lanes were recorded seal without
        message += "|" + json.dumps(lanes_trimmed, sort_keys=True, separators=(",", ":"))
    return hmac.new(chain_key(), message.encode(), hashlib.sha256).hexdigest()


def is_genuine(checkpoint: AuditCheckpoint) -> bool:
    """Whether Postern wrote ``checkpoint`` as it stands (its seal matches)."""
    expected = seal_of(
        checkpoint.first_seq,
        checkpoint.first_row_hash,
        checkpoint.rows_deleted,
        checkpoint.created_at,
        checkpoint.lanes_trimmed,
    )
    return hmac.compare_digest(checkpoint.seal, expected)


def lanes_trimmed(session=None) -> dict[int, int] | None:
    """How far retention has trimmed each lane ({lane: highest number deleted}): empty if it
    never trimmed the chain; None if unknown (a lane may then start anywhere): its newest
    checkpoint predates the record, or is not genuine (which verifying the chain reports)."""
    return lanes_of(latest_checkpoint(session))


def lanes_of(checkpoint: AuditCheckpoint | None) -> dict[int, int] | None:
    """``lanes_trimmed`` as ``checkpoint`` (the newest, read by the caller) records it."""
    if checkpoint is None:
        return {}
    if checkpoint.lanes_trimmed is None or not is_genuine(checkpoint):
        return None
    return {int(lane): number for lane, number in checkpoint.lanes_trimmed.items()}


def explains_start(first, session=None) -> bool:
    """Whether a chain whose first row is ``first`` (its ``seq`` and ``row_hash``) starts where
    Postern left it: at seq 1, or at the row retention's newest genuine checkpoint names."""
    if first.seq == 1:
        return True
    checkpoint = latest_checkpoint(session)
    return (
        checkpoint is not None
        and checkpoint.first_seq == first.seq
        and hmac.compare_digest(checkpoint.first_row_hash, first.row_hash)
        and is_genuine(checkpoint)
    )


def latest_checkpoint(session=None) -> AuditCheckpoint | None:
    return (
        (session or db.session)
        .execute(select(AuditCheckpoint).order_by(AuditCheckpoint.first_seq.desc()).limit(1))
        .scalar_one_or_none()
    )


def _due_prefix(session, cutoff: datetime, batch_size: int) -> int | None:
    """The seq of the last row of the oldest run of rows older than ``cutoff`` (at most
    ``batch_size`` rows, never the newest row), or None if the oldest row is not due."""
    newest = session.execute(select(func.max(AuditEvent.seq))).scalar()
    if newest is None:
        return None
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.occurred_at).order_by(AuditEvent.seq).limit(batch_size)
    ).all()
    last = None
    for row in rows:
        if row.occurred_at >= cutoff or row.seq >= newest:
            break
        last = row.seq
    return last


def count_due(cutoff: datetime) -> int:
    """How many rows a purge would delete now (the dry run's answer)."""
    newest = db.session.execute(select(func.max(AuditEvent.seq))).scalar()
    first_kept = db.session.execute(
        select(func.min(AuditEvent.seq)).where(AuditEvent.occurred_at >= cutoff)
    ).scalar()
    limit = min(x for x in (newest, first_kept) if x is not None) if newest else None
    if limit is None:
        return 0
    return db.session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.seq < limit)
    ).scalar_one()


def trim_batch(cutoff: datetime, batch_size: int) -> int:
    """Delete up to ``batch_size`` of the oldest rows older than ``cutoff`` and checkpoint the
    first row kept, in one transaction. Returns how many rows went. COMMITS.

    Raises ``MaintenanceRefused`` if the database login may not delete audit rows."""
    with maintenance_session() as session:
        return _trim(session, cutoff, batch_size)


def _trim(session, cutoff: datetime, batch_size: int) -> int:
    enter_maintenance(session)  # first: a login without the role reads nothing either
    if is_postgresql(session):
        session.execute(_LOCK, {"key": TRIM_LOCK_KEY})  # one trimmer at a time
    last = _due_prefix(session, cutoff, batch_size)
    if last is None:
        session.rollback()
        return 0
    lanes = _lanes_after(session, last)
    deleted = session.execute(
        delete(AuditEvent)
        .where(AuditEvent.seq <= last)
        .execution_options(synchronize_session=False)
    ).rowcount
    first = session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash)
        .where(AuditEvent.seq > last)
        .order_by(AuditEvent.seq)
        .limit(1)
    ).one()
    # Anchors of rows now gone name nothing left to compare; the newest anchor always stays.
    newest_anchor = select(func.max(AuditAnchor.id)).scalar_subquery()
    session.execute(
        delete(AuditAnchor)
        .where(AuditAnchor.seq < first.seq, AuditAnchor.id != newest_anchor)
        .execution_options(synchronize_session=False)
    )
    now = utcnow()
    session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.first_seq <= first.seq))
    session.add(
        AuditCheckpoint(
            first_seq=first.seq,
            first_row_hash=first.row_hash,
            rows_deleted=deleted,
            created_at=now,
            lanes_trimmed=lanes,
            seal=seal_of(first.seq, first.row_hash, deleted, now, lanes),
        )
    )
    session.commit()
    return deleted


def _lanes_after(session, last: int) -> dict[str, int] | None:
    """Each lane's highest number deleted once rows up to ``last`` are: this batch's and every
    earlier run's (the newest checkpoint carries them all; older ones are deleted). A lane's rows
    enter the chain in their lane's order, so what is deleted of a lane is always its lowest.

    Only from a chain that starts where Postern left it: rows deleted by hand, or a checkpoint
    deleted, replaced or forged, would otherwise be covered by the genuine checkpoint this
    batch writes. Rolls back and raises ``MaintenanceRefused`` if it does not."""
    first = session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq).limit(1)
    ).one()
    if not explains_start(first, session):
        session.rollback()
        raise MaintenanceRefused(
            "the audit chain does not start where retention left it (rows deleted by hand, or "
            "its checkpoint deleted, replaced or forged): no audit row is deleted until "
            "`flask audit verify` is looked into"
        )
    lanes = lanes_trimmed(session)
    if lanes is None:
        return None  # the chain was trimmed before lanes were recorded: still unknown
    # A batch deletes a lane's numbers above any an earlier run deleted: they replace those.
    lanes.update(
        session.execute(
            select(AuditEvent.lane, func.max(AuditEvent.lane_seq))
            .where(AuditEvent.seq <= last, AuditEvent.lane.is_not(None))
            .group_by(AuditEvent.lane)
        ).all()
    )
    return {str(lane): number for lane, number in sorted(lanes.items())}


def verify_audit_chain() -> VerifyResult:
    """Verify the whole kept chain, from the newest retention checkpoint (or from seq 1 if
    retention never deleted anything). Use this, not ``verify_chain`` from seq 1."""
    checkpoint = latest_checkpoint()
    start = 1
    if checkpoint is not None:
        if not is_genuine(checkpoint):
            return VerifyResult(
                False,
                0,
                checkpoint.first_seq,
                "the retention checkpoint was not written by Postern (its seal does not match)",
            )
        start = checkpoint.first_seq
        first = db.session.execute(
            select(AuditEvent.seq, AuditEvent.row_hash)
            .where(AuditEvent.seq >= start)
            .order_by(AuditEvent.seq)
            .limit(1)
        ).first()
        if first is None or first.seq != start or first.row_hash != checkpoint.first_row_hash:
            return VerifyResult(
                False,
                0,
                start,
                "the first row kept by retention is missing or changed (deleted or edited)",
            )
    rows = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.seq >= start)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    ).scalars()
    return verify_chain(rows, chain_key(), start_seq=start)
