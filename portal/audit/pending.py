"""Pending audit rows: written by the action's own transaction, checked until they are sealed.

A committing transaction takes one *lane* (``audit_lanes``): on PostgreSQL, whichever lane no
other transaction holds at that moment (``FOR UPDATE SKIP LOCKED``), so writers do not queue
behind one another. It adds its rows to the lane's count and writes them numbered in the lane,
each with its own HMAC under the chain key (``chain.pending_hash``): two statements, and the
lane is held only from then until the commit. Counts roll back with the transaction, so a lane's
numbers have no gaps: a pending row deleted before it was sealed leaves one (or leaves the
lane's count ahead of its rows), and ``check`` reports it.
"""

from __future__ import annotations

import hmac
import random
from dataclasses import dataclass

from sqlalchemy import func, insert, literal, select, text, union_all
from sqlalchemy.orm import Session

from portal.audit.chain import pending_hash
from portal.audit.checkpoints import lanes_of, latest_checkpoint
from portal.audit.service import chain_key
from portal.models.audit import AuditEvent, AuditLane, AuditPending

PENDING = AuditPending.__table__
LANES = AuditLane.__table__
CHAIN = AuditEvent.__table__
#: How many lanes writers spread over when none is free (a lane is held for two round trips
#: at commit, so a handful of concurrent committers rarely find all of them busy).
LANE_COUNT = 16
#: Reads of the lanes and the checkpoint before a check gives up waiting for retention to pause.
_MAX_READS = 5
CONTENT = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "ip",
    "user_agent",
    "details",
)

# A free lane, taken and counted in one statement; no row when every lane is held just now.
_TAKE_FREE_LANE = text(
    "UPDATE audit_lanes SET allocated = allocated + :n WHERE lane = ("
    " SELECT lane FROM audit_lanes ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED"
    ") RETURNING lane, allocated"
)
#: Holds every lane until its transaction ends: writers then wait at their commit (for tests
#: that need transactions caught in flight).
HOLD_EVERY_LANE = "SELECT lane FROM audit_lanes FOR UPDATE"
# A given lane, created if new (after the tables were emptied, or on first use), else waited for.
_TAKE_LANE = text(
    "INSERT INTO audit_lanes (lane, allocated) VALUES (:lane, :n) ON CONFLICT (lane) DO UPDATE"
    " SET allocated = audit_lanes.allocated + excluded.allocated RETURNING lane, allocated"
)


def write(session: Session, rows: list[AuditEvent]) -> None:
    """Number ``rows`` in a lane and insert them into the pending table, in ``session``'s
    transaction. Sets ``lane`` and ``lane_seq`` on each row."""
    lane, last = _take_lane(session, len(rows))
    key = chain_key()
    values = []
    for number, row in enumerate(rows, start=last - len(rows) + 1):
        row.lane, row.lane_seq = lane, number
        values.append(
            {
                **{name: getattr(row, name) for name in CONTENT},
                "lane": lane,
                "lane_seq": number,
                "row_hash": pending_hash(row, key),
            }
        )
    session.execute(insert(PENDING).values(values))


def _take_lane(session: Session, count: int) -> tuple[int, int]:
    """(lane, its count after adding ``count``), the lane held until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        taken = session.execute(_TAKE_FREE_LANE, {"n": count}).first()
        if taken is not None:
            return taken.lane, taken.allocated
        lane = random.randrange(LANE_COUNT)  # noqa: S311  (spreading load, not a secret)
    else:
        lane = 0  # SQLite: one writer at a time anyway
    taken = session.execute(_TAKE_LANE, {"lane": lane, "n": count}).one()
    return taken.lane, taken.allocated


@dataclass(frozen=True)
class PendingCheck:
    ok: bool
    pending: int
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.ok:
            return f"pending audit rows intact: {self.pending} waiting to be sealed"
        return "pending audit rows DAMAGED: " + "; ".join(self.problems)


def hash_ok(row, key: bytes) -> bool:
    return hmac.compare_digest(row.row_hash, pending_hash(row, key))


def check(session: Session) -> PendingCheck:
    """Every pending row's HMAC, and every lane gap-free up to its count, the sealed rows and
    the pending ones together (one statement: one snapshot, whatever the sealer does meanwhile).
    """
    key = chain_key()
    problems = []
    rows = session.execute(select(PENDING).order_by(PENDING.c.lane, PENDING.c.lane_seq)).all()
    for row in rows:
        if not hash_ok(row, key):
            problems.append(
                f"pending row lane {row.lane} #{row.lane_seq} does not match its HMAC "
                "(edited, or inserted by hand)"
            )
    trimmed, lanes = _lanes_and_retention(session)
    for lane in lanes:
        problems.extend(_lane_problems(lane, trimmed))
    return PendingCheck(not problems, len(rows), tuple(problems))


def _lanes_and_retention(session: Session) -> tuple[dict[int, int] | None, list]:
    """How far retention trimmed each lane, and each lane's rows, as of one moment. They are two
    statements, each with its own snapshot: a retention batch committed between them would show
    a lane trimmed further than the checkpoint read says, so they are read again until the
    newest checkpoint is the same row after as before (a batch always writes a new one)."""
    for _attempt in range(_MAX_READS):
        checkpoint = latest_checkpoint(session)
        lanes = _lanes(session)
        after = latest_checkpoint(session)
        if _row_id(after) == _row_id(checkpoint):
            break
    return lanes_of(checkpoint), lanes


def _row_id(checkpoint) -> int | None:
    return None if checkpoint is None else checkpoint.id


def _lanes(session: Session) -> list:
    numbered = union_all(
        select(CHAIN.c.lane, CHAIN.c.lane_seq).where(CHAIN.c.lane.is_not(None)),
        select(PENDING.c.lane, PENDING.c.lane_seq),
    ).subquery()
    counted = (
        select(
            numbered.c.lane,
            func.min(numbered.c.lane_seq).label("low"),
            func.max(numbered.c.lane_seq).label("high"),
            func.count().label("rows"),
            func.count(func.distinct(numbered.c.lane_seq)).label("distinct_rows"),
        )
        .group_by(numbered.c.lane)
        .cte("counted")
    )
    with_rows = select(
        counted.c.lane,
        LANES.c.allocated,
        counted.c.low,
        counted.c.high,
        counted.c.rows,
        counted.c.distinct_rows,
    ).select_from(counted.outerjoin(LANES, LANES.c.lane == counted.c.lane))
    without_rows = select(
        LANES.c.lane,
        LANES.c.allocated,
        literal(None).label("low"),
        literal(None).label("high"),
        literal(0).label("rows"),
        literal(0).label("distinct_rows"),
    ).where(~select(counted.c.lane).where(counted.c.lane == LANES.c.lane).exists())
    return session.execute(union_all(with_rows, without_rows)).all()


def _lane_problems(lane, trimmed: dict[int, int] | None) -> list[str]:
    """What is wrong with one lane's rows, sealed and pending. ``trimmed``: how far retention
    deleted each lane (``lanes_trimmed``); None if unknown, when a lane may start anywhere."""
    name = f"lane {lane.lane}"
    if lane.allocated is None:
        return [f"{name}: its count is missing (deleted)"]
    below = None if trimmed is None else trimmed.get(lane.lane, 0)
    if lane.rows == 0:
        if below is not None and lane.allocated > below:
            return [f"{name}: rows {below + 1}..{lane.allocated} are missing (deleted)"]
        if below is not None and lane.allocated < below:
            return [f"{name}: its count was set back below what retention deleted ({below})"]
        return []
    problems = []
    if lane.distinct_rows != lane.rows:
        problems.append(f"{name}: a row number appears twice (a row was copied or inserted)")
    if lane.high < lane.allocated:
        problems.append(f"{name}: rows {lane.high + 1}..{lane.allocated} are missing (deleted)")
    if lane.high > lane.allocated:
        problems.append(f"{name}: its count was set back below its rows (from {lane.high})")
    if lane.high - lane.low + 1 != lane.distinct_rows:
        problems.append(f"{name}: rows between {lane.low} and {lane.high} are missing (deleted)")
    if below is not None and lane.low > below + 1:
        problems.append(f"{name}: rows {below + 1}..{lane.low - 1} are missing (deleted)")
    if below is not None and lane.low <= below:
        problems.append(
            f"{name}: row #{lane.low} is one retention deleted (copied back or inserted)"
        )
    return problems
