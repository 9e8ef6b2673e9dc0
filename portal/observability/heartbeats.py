"""Worker heartbeats: proof that each background worker's loop is still going round.

A worker process calls ``record_heartbeat`` as its loop goes round (``portal.workers`` does,
at most once per interval); ``silent_workers`` names the kinds of worker whose newest beat,
from any of their processes, is older than ``SILENT_AFTER_INTERVALS`` times the interval it
promised. The metrics endpoint exposes the newest beat per kind, and the alert rules and
security notifications read the same table.

A beat is written on its own connection and committed at once, whatever the worker's session
holds, so a beat never commits (or waits on) the worker's own work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update

from portal.extensions import db
from portal.models.heartbeat import WorkerHeartbeat
from portal.models.types import utcnow

#: A worker is silent when its newest beat is older than this many intervals.
SILENT_AFTER_INTERVALS = 3
#: Rows of processes that stopped beating this long ago are removed by a live process of the
#: same kind (a restart leaves its predecessor's row behind).
FORGET_AFTER = timedelta(days=7)

_T = WorkerHeartbeat.__table__


@dataclass(frozen=True)
class SilentWorker:
    name: str
    last_beat_at: datetime
    interval_seconds: float


@dataclass(frozen=True)
class NewestBeat:
    """The newest beat of one kind of worker, from whichever of its processes wrote it."""

    name: str
    beat_at: datetime
    interval_seconds: float

    def is_silent(self, now: datetime) -> bool:
        allowed = timedelta(seconds=self.interval_seconds * SILENT_AFTER_INTERVALS)
        return now - self.beat_at > allowed


def record_heartbeat(name: str, worker_id: str, interval_seconds: float) -> None:
    """Record that worker process ``worker_id`` (of kind ``name``) is alive now, and promises
    to beat again within ``interval_seconds``. Commits on a connection of its own. Raises the
    database's errors (the worker loop treats them as the database being away)."""
    now = utcnow()
    values = {"worker_name": name, "beat_at": now, "interval_seconds": float(interval_seconds)}
    with db.engine.begin() as connection:
        # Only this process writes its own row: no race between the UPDATE and the INSERT.
        updated = connection.execute(update(_T).where(_T.c.worker_id == worker_id).values(values))
        if updated.rowcount == 0:
            connection.execute(insert(_T).values(worker_id=worker_id, **values))
            connection.execute(
                delete(_T).where(_T.c.worker_name == name, _T.c.beat_at < now - FORGET_AFTER)
            )


def newest_beats() -> list[NewestBeat]:
    """Per kind of worker, its newest beat and the interval promised with it. Two indexed
    queries' worth of work: one row per worker process."""
    newest = (
        select(_T.c.worker_name, func.max(_T.c.beat_at).label("beat_at"))
        .group_by(_T.c.worker_name)
        .subquery()
    )
    rows = db.session.execute(
        select(
            WorkerHeartbeat.worker_name, WorkerHeartbeat.beat_at, WorkerHeartbeat.interval_seconds
        )
        .join(
            newest,
            (newest.c.worker_name == WorkerHeartbeat.worker_name)
            & (newest.c.beat_at == WorkerHeartbeat.beat_at),
        )
        .order_by(WorkerHeartbeat.worker_name)
    ).all()
    found: dict[str, NewestBeat] = {}
    for name, beat_at, interval in rows:  # two processes may share a timestamp: keep one
        found.setdefault(name, NewestBeat(name, beat_at, interval))
    return list(found.values())


def silent_workers(now: datetime | None = None) -> list[SilentWorker]:
    """The kinds of worker whose newest beat is older than 3x its interval, by name. A kind
    that never beat at all is not listed (nothing says it should run)."""
    now = now or utcnow()
    return [
        SilentWorker(beat.name, beat.beat_at, beat.interval_seconds)
        for beat in newest_beats()
        if beat.is_silent(now)
    ]
