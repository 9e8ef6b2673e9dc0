"""Does the audit chain verify right now? Answered cheaply enough to show on every page view.

Hashing every row costs about 1.5-2 s per 100,000 rows on one core (measured by
``tests/functional/test_backoffice_audit_log.py``): far too slow for a page once the trail is
large. So each app process walks the chain a slice at a time and remembers how far it got (the
last verified row's seq and hash, the first row, the count). On each view it:

1. compares the chain's end with the newest anchor (``portal.audit.anchors``): rows deleted
   from the end leave a chain that still verifies, but ends before the anchored row;
2. checks that what it verified is still there: the first and last verified rows unchanged
   (hash recomputed) and as many rows up to the last as before, so a deleted row shows at once;
3. verifies up to ``BACKOFFICE_AUDIT_VERIFY_BUDGET`` rows after the last one (the first new
   row must link to the remembered hash); a walk not yet at the end says how far it got;
4. when its last complete walk started more than ``BACKOFFICE_AUDIT_FULL_VERIFY_SECONDS`` ago,
   spends what is left of the budget on a fresh walk from the start, which is what catches a
   row edited in the middle of the part already verified.

``flask audit verify`` still walks everything in one go (and writes the anchors). The chain
may start after seq 1 once retention deleted its oldest rows: it must then start exactly at the
row retention's newest checkpoint names, and that checkpoint's seal must be genuine
(``portal.audit.checkpoints``).
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

from portal.audit import anchors
from portal.audit.chain import VerifyResult, compute_hash, verify_chain
from portal.audit.checkpoints import explains_start
from portal.audit.service import chain_key
from portal.extensions import db
from portal.models.audit import GENESIS_HASH, AuditEvent
from portal.models.types import utcnow

log = logging.getLogger("postern.backoffice.audit")
AUDIT = AuditEvent.__table__
DEFAULT_FULL_VERIFY_SECONDS = 3600
DEFAULT_VERIFY_BUDGET = 50_000
_STATE_KEY = "postern.audit_chain_status"


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    #: Rows known to verify, from the start of the chain.
    rows: int
    #: False while the walk has not yet reached the newest row.
    caught_up: bool
    #: Rows not yet verified (0 when caught up).
    remaining: int
    first_bad_seq: int | None
    problem: str | None
    #: Rows hashed by this check.
    checked_now: int
    elapsed_ms: float
    #: When the last complete walk from the start of the chain began (None: none yet).
    last_full_walk: datetime | None
    starts_at_checkpoint: bool = False
    #: The newest anchor of the chain's end, once the verified rows reach it: "verifies up to
    #: checkpoint ``anchor_seq`` at ``anchor_at``".
    anchor_seq: int | None = None
    anchor_at: datetime | None = None
    #: "truncated", "rewritten" or "forged" when the chain's end disagrees with the newest
    #: anchor (``problem`` says how, and ``anchor_*`` name that anchor); None otherwise.
    damage: str | None = None
    #: When truncated: the seq the chain now ends at, and how many rows are missing at least.
    chain_end: int | None = None
    missing: int | None = None


@dataclass(frozen=True)
class _Walk:
    """A walk along the chain from its first row; ``last_*`` is the last row verified."""

    started_at: datetime
    first_seq: int
    from_checkpoint: bool
    last_seq: int
    last_hash: str | None
    rows: int = 0
    first_hash: str | None = None
    #: When the walk that verified everything up to the end last started, once there is one.
    complete_from: datetime | None = None


class _Broken(Exception):
    def __init__(self, seq: int | None, problem: str, tail: dict | None = None):
        super().__init__(problem)
        self.result = VerifyResult(False, 0, seq, problem)
        #: ChainStatus fields describing a disagreement with the newest anchor.
        self.tail = tail or {}


def _row(seq: int):
    return db.session.execute(select(*AUDIT.c).where(AUDIT.c.seq == seq)).first()


def _intact(row, expected_hash: str | None, key: bytes) -> bool:
    return (
        row is not None
        and expected_hash is not None
        and hmac.compare_digest(row.row_hash, expected_hash)
        and hmac.compare_digest(row.row_hash, compute_hash(row, key))
    )


def _first_row():
    return db.session.execute(select(*AUDIT.c).order_by(AUDIT.c.seq).limit(1)).first()


def _new_walk(now: datetime) -> _Walk:
    """A walk positioned before the chain's first row. Raises _Broken if the chain starts
    after seq 1 without a genuine retention checkpoint naming its first row."""
    first = _first_row()
    if first is None or first.seq == 1:
        return _Walk(now, 1, False, 0, None)
    if not explains_start(first):
        raise _Broken(
            first.seq,
            f"rows 1..{first.seq - 1} are missing and no genuine retention checkpoint explains it",
        )
    return _Walk(now, first.seq, True, first.seq - 1, None)


def _after_retention(walk: _Walk | None) -> _Walk | None:
    """The walk, with its start moved up if retention has since deleted the oldest rows and
    left a genuine checkpoint saying so (None: start a new walk, the deletion went past it).
    Any other change at the start is left for ``_still_there`` to report."""
    if walk is None:
        return None
    first = _first_row()
    if first is None or first.seq <= walk.first_seq or not explains_start(first):
        return walk
    if first.seq > walk.last_seq:
        return None
    return replace(
        walk,
        first_seq=first.seq,
        first_hash=first.row_hash,
        rows=walk.rows - (first.seq - walk.first_seq),
        from_checkpoint=True,
    )


def _still_there(walk: _Walk, key: bytes) -> None:
    """Raise _Broken if rows this walk verified were edited at its ends or deleted."""
    if not walk.rows:
        return
    earliest = db.session.execute(select(func.min(AUDIT.c.seq))).scalar()
    if earliest != walk.first_seq or not _intact(_row(walk.first_seq), walk.first_hash, key):
        raise _Broken(walk.first_seq, "the first row changed or vanished")
    if not _intact(_row(walk.last_seq), walk.last_hash, key):
        raise _Broken(walk.last_seq, "an already verified row changed")
    counted = db.session.execute(
        select(func.count()).select_from(AUDIT).where(AUDIT.c.seq <= walk.last_seq)
    ).scalar()
    if counted != walk.rows:
        raise _Broken(None, f"{walk.rows - counted} already verified row(s) are missing (deleted)")


def _advance(walk: _Walk, key: bytes, budget: int) -> tuple[_Walk, int, bool]:
    """Verify up to ``budget`` rows after the walk's last one, streamed (never all in memory).
    Returns (the walk moved on, rows checked, reached the end). Raises _Broken naming the
    first bad row."""
    result = db.session.execute(
        select(*AUDIT.c)
        .where(AUDIT.c.seq > walk.last_seq)
        .order_by(AUDIT.c.seq)
        .limit(budget)
        .execution_options(yield_per=2000)
    )
    seen: dict = {"first": None, "last": None}

    def rows():
        for row in result:
            if seen["first"] is None:
                seen["first"] = row
                if walk.last_hash is not None and row.prev_hash != walk.last_hash:
                    raise _Broken(
                        row.seq,
                        "does not link to the last verified row (a row was "
                        "deleted or inserted before it)",
                    )
                if walk.last_hash is None and walk.first_seq == 1 and row.prev_hash != GENESIS_HASH:
                    raise _Broken(row.seq, "the first row does not start the chain")
            seen["last"] = row
            yield row

    verdict = verify_chain(rows(), key, start_seq=walk.last_seq + 1)
    if not verdict.ok:
        raise _Broken(verdict.first_bad_seq, verdict.problem or "does not verify")
    if seen["last"] is None:
        return walk, 0, True
    moved = replace(
        walk,
        last_seq=seen["last"].seq,
        last_hash=seen["last"].row_hash,
        rows=walk.rows + verdict.rows_checked,
        first_hash=walk.first_hash or seen["first"].row_hash,
    )
    return moved, verdict.rows_checked, verdict.rows_checked < budget


def _remaining(walk: _Walk) -> int:
    newest = db.session.execute(select(func.max(AUDIT.c.seq))).scalar() or 0
    return max(newest - walk.last_seq, 0)


def _check(state: dict, key: bytes, now: datetime, budget: int, full_every: float) -> tuple:
    walk: _Walk = _after_retention(state["walk"]) or _new_walk(now)
    _still_there(walk, key)
    walk, checked, caught_up = _advance(walk, key, budget)
    if caught_up and walk.complete_from is None:
        walk = replace(walk, complete_from=walk.started_at)
    due = walk.complete_from is not None and (
        (now - walk.complete_from).total_seconds() >= full_every
    )
    rewalk: _Walk | None = state["rewalk"]
    if rewalk is not None and _after_retention(rewalk) is not rewalk:
        rewalk = None  # retention trimmed the start meanwhile: re-walk from its checkpoint
    if caught_up and due and checked < budget:
        rewalk = rewalk or _new_walk(now)
        rewalk, again, _ = _advance(rewalk, key, budget - checked)
        checked += again
        if rewalk.last_seq >= walk.last_seq:  # the fresh walk covered everything: adopt it
            walk, rewalk = replace(walk, complete_from=rewalk.started_at), None
    state["walk"], state["rewalk"] = walk, rewalk
    return walk, checked, caught_up


def current_status(now: datetime | None = None) -> ChainStatus:
    """Verify the next slice of the chain and say whether it is intact so far."""
    now = now or utcnow()
    config = current_app.config
    state = current_app.extensions.setdefault(
        _STATE_KEY, {"lock": threading.Lock(), "walk": None, "rewalk": None}
    )
    budget = int(config.get("BACKOFFICE_AUDIT_VERIFY_BUDGET", DEFAULT_VERIFY_BUDGET))
    full_every = config.get("BACKOFFICE_AUDIT_FULL_VERIFY_SECONDS", DEFAULT_FULL_VERIFY_SECONDS)
    with state["lock"]:
        started = time.perf_counter()
        try:
            tail = anchors.check_tail()
            if not tail.ok:
                raise _Broken(tail.seq, tail.problem or "", _damage(tail))
            walk, checked, caught_up = _check(state, chain_key(), now, budget, full_every)
            remaining = 0 if caught_up else _remaining(walk)
            reached = _reached(tail.anchor, walk)
        except _Broken as broken:
            state["walk"] = state["rewalk"] = None  # start again from scratch next time
            result = broken.result
            log.warning(
                "audit chain does not verify",
                extra={
                    "first_bad_seq": result.first_bad_seq,
                    "problem": result.problem,
                    "damage": broken.tail.get("damage"),
                },
            )
            return ChainStatus(
                ok=False,
                rows=0,
                caught_up=False,
                remaining=0,
                first_bad_seq=result.first_bad_seq,
                problem=result.problem,
                checked_now=0,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                last_full_walk=None,
                **broken.tail,
            )
        finally:
            db.session.rollback()  # end the read transaction the walk opened
    return ChainStatus(
        ok=True,
        rows=walk.rows,
        caught_up=caught_up,
        remaining=remaining,
        first_bad_seq=None,
        problem=None,
        checked_now=checked,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        last_full_walk=walk.complete_from,
        starts_at_checkpoint=walk.from_checkpoint,
        **reached,
    )


def _damage(tail: anchors.TailVerdict) -> dict:
    """ChainStatus fields for a chain's end that disagrees with the newest anchor."""
    fields = {
        "damage": tail.kind,
        "anchor_seq": tail.anchor.seq,
        "anchor_at": tail.anchor.anchored_at,
        "missing": tail.missing,
    }
    if tail.missing is not None:
        fields["chain_end"] = tail.anchor.seq - tail.missing
    return fields


def _reached(anchor, walk: _Walk) -> dict:
    """The anchor to name as verified, if the walk has verified up to (or past) its row."""
    if anchor is None or walk.last_seq < anchor.seq:
        return {}
    return {"anchor_seq": anchor.seq, "anchor_at": anchor.anchored_at}
