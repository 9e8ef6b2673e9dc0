"""Does the audit chain verify right now? Answered cheaply enough to show on every page view.

A full walk hashes every row (about 1.5-2 s per 100,000 rows on one core, measured by
``tests/functional/test_backoffice_audit_log.py``), too slow for every page view. So each app process
remembers how far it has verified (the last row's seq and hash, the first row, the row count)
and on the next view:

* checks that the rows it verified are still there: the first and last ones unchanged (hash
  recomputed), and as many rows up to the last one as before (a deleted row shows at once);
* verifies only the rows added since, linking the first new row to the remembered hash;
* walks the whole chain again when its last full walk is older than
  ``BACKOFFICE_AUDIT_FULL_VERIFY_SECONDS`` (default one hour), which is what catches a row
  edited in the middle of the already-verified part. ``flask audit verify`` always walks all.

The chain may legitimately start after seq 1 once retention deleted the oldest rows; then it
must start exactly at a retention checkpoint (``audit_checkpoints``) naming its first row.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from portal.audit.chain import VerifyResult, compute_hash, verify_chain
from portal.audit.service import chain_key
from portal.extensions import db
from portal.models.audit import GENESIS_HASH, AuditEvent
from portal.models.retention import AuditCheckpoint
from portal.models.types import utcnow

log = logging.getLogger("postern.backoffice.audit")
AUDIT = AuditEvent.__table__
DEFAULT_FULL_VERIFY_SECONDS = 3600
_STATE_KEY = "postern.audit_chain_status"


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    #: Rows known to verify (the whole chain when ok).
    rows: int
    first_bad_seq: int | None
    problem: str | None
    #: Rows hashed by this check (all of them on a full walk).
    checked_now: int
    full_walk: bool
    elapsed_ms: float
    last_full_walk: datetime | None
    starts_at_checkpoint: bool = False


@dataclass(frozen=True)
class _Progress:
    first_seq: int
    first_hash: str
    last_seq: int
    last_hash: str
    rows: int
    full_at: datetime
    from_checkpoint: bool


def _rows(after_seq: int = 0):
    return db.session.execute(
        select(*AUDIT.c).where(AUDIT.c.seq > after_seq).order_by(AUDIT.c.seq)
        .execution_options(yield_per=2000)
    )


def _row(seq: int):
    return db.session.execute(select(*AUDIT.c).where(AUDIT.c.seq == seq)).first()


def _intact(row, expected_hash: str, key: bytes) -> bool:
    return (
        row is not None
        and hmac.compare_digest(row.row_hash, expected_hash)
        and hmac.compare_digest(row.row_hash, compute_hash(row, key))
    )


class _Walk:
    """Feeds rows to verify_chain while remembering the last one it saw."""

    def __init__(self, rows, link_to: str | None):
        self.rows, self.link_to, self.last, self.broken_link = rows, link_to, None, None

    def __iter__(self):
        for row in self.rows:
            if self.last is None and self.link_to is not None and row.prev_hash != self.link_to:
                self.broken_link = row.seq
                return
            self.last = row
            yield row


def _start_of_chain(key: bytes) -> tuple[int, bool] | VerifyResult:
    """(first seq, starts at a retention checkpoint) or the reason the start is wrong."""
    first = db.session.execute(select(*AUDIT.c).order_by(AUDIT.c.seq).limit(1)).first()
    if first is None or first.seq == 1:
        return 1, False
    checkpoint = db.session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.first_seq == first.seq)
    ).scalar_one_or_none()
    if checkpoint is None or not hmac.compare_digest(checkpoint.first_row_hash, first.row_hash):
        problem = f"rows 1..{first.seq - 1} are missing and no retention checkpoint explains it"
        return VerifyResult(False, 0, first.seq, problem)
    return first.seq, True


def _full_walk(key: bytes, now: datetime) -> tuple[VerifyResult, _Progress | None]:
    start = _start_of_chain(key)
    if isinstance(start, VerifyResult):
        return start, None
    start_seq, from_checkpoint = start
    walk = _Walk(_rows(start_seq - 1), GENESIS_HASH if start_seq == 1 else None)
    result = verify_chain(walk, key, start_seq=start_seq)
    if not result.ok or walk.last is None:
        return result, None
    first = _row(start_seq)
    progress = _Progress(
        first.seq, first.row_hash, walk.last.seq, walk.last.row_hash, result.rows_checked, now,
        from_checkpoint,
    )
    return result, progress


def _incremental(progress: _Progress, key: bytes) -> tuple[VerifyResult, _Progress | None]:
    first, last = _row(progress.first_seq), _row(progress.last_seq)
    earliest = db.session.execute(select(func.min(AUDIT.c.seq))).scalar()
    if earliest != progress.first_seq or not _intact(first, progress.first_hash, key):
        return VerifyResult(False, 0, progress.first_seq, "the first row changed or vanished"), None
    if not _intact(last, progress.last_hash, key):
        return VerifyResult(False, 0, progress.last_seq, "an already verified row changed"), None
    counted = db.session.execute(
        select(func.count()).select_from(AUDIT).where(AUDIT.c.seq <= progress.last_seq)
    ).scalar()
    if counted != progress.rows:
        problem = f"{progress.rows - counted} already verified row(s) are missing (deleted)"
        return VerifyResult(False, 0, None, problem), None
    walk = _Walk(_rows(progress.last_seq), progress.last_hash)
    result = verify_chain(walk, key, start_seq=progress.last_seq + 1)
    if walk.broken_link is not None:
        problem = "does not link to the last verified row (a row was inserted or deleted)"
        return VerifyResult(False, 0, walk.broken_link, problem), None
    if not result.ok:
        return result, None
    if walk.last is None:
        return result, progress
    return result, replace(
        progress,
        last_seq=walk.last.seq,
        last_hash=walk.last.row_hash,
        rows=progress.rows + result.rows_checked,
    )


def current_status(now: datetime | None = None) -> ChainStatus:
    """Verify what is new (or everything, when due) and say whether the chain is intact."""
    now = now or utcnow()
    state = current_app.extensions.setdefault(
        _STATE_KEY, {"lock": threading.Lock(), "progress": None}
    )
    full_every = current_app.config.get(
        "BACKOFFICE_AUDIT_FULL_VERIFY_SECONDS", DEFAULT_FULL_VERIFY_SECONDS
    )
    key = chain_key()
    with state["lock"]:
        progress: _Progress | None = state["progress"]
        started = time.perf_counter()
        full = progress is None or (now - progress.full_at).total_seconds() >= full_every
        if full:
            result, progress = _full_walk(key, now)
        else:
            result, progress = _incremental(progress, key)
        db.session.rollback()  # end the read transaction the walk opened
        state["progress"] = progress if result.ok else None
        elapsed_ms = (time.perf_counter() - started) * 1000
    if not result.ok:
        log.warning(
            "audit chain does not verify",
            extra={"first_bad_seq": result.first_bad_seq, "problem": result.problem},
        )
    return ChainStatus(
        ok=result.ok,
        rows=progress.rows if progress else result.rows_checked,
        first_bad_seq=result.first_bad_seq,
        problem=result.problem,
        checked_now=result.rows_checked,
        full_walk=full,
        elapsed_ms=elapsed_ms,
        last_full_walk=progress.full_at if progress else None,
        starts_at_checkpoint=bool(progress and progress.from_checkpoint),
    )
