"""Worker heartbeats: the work loop beats (throttled), and a worker that stops beating for
longer than three of its intervals is reported silent."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models.heartbeat import WorkerHeartbeat
from portal.models.types import utcnow
from portal.observability.heartbeats import newest_beats, record_heartbeat, silent_workers
from portal.workers import work_until_stopped
from tests.support.loopback import wait_until


@dataclass
class _Counts:
    claimed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"claimed": self.claimed}


def test_a_worker_beating_within_its_interval_is_not_silent(app):
    with app.app_context():
        record_heartbeat("outbox", "host:1:1:aa", 30)
        assert silent_workers() == []
        assert silent_workers(now=utcnow() + timedelta(seconds=89)) == []


def test_a_worker_silent_for_more_than_three_intervals_is_reported(app):
    with app.app_context():
        record_heartbeat("outbox", "host:1:1:aa", 30)
        record_heartbeat("webhooks", "host:2:1:bb", 60)
        later = utcnow() + timedelta(seconds=91)
        silent = silent_workers(now=later)
        assert [(w.name, w.interval_seconds) for w in silent] == [("outbox", 30.0)]
        assert later - silent[0].last_beat_at > timedelta(seconds=90)


def test_the_newest_beat_of_any_process_of_a_kind_counts(app):
    with app.app_context():
        record_heartbeat("outbox", "host:1:1:old", 10)
        db.session.execute(
            WorkerHeartbeat.__table__.update().values(beat_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
        assert [w.name for w in silent_workers()] == ["outbox"]
        record_heartbeat("outbox", "host:9:1:new", 10)  # a restarted process
        assert silent_workers() == []
        (beat,) = newest_beats()
        assert beat.name == "outbox" and beat.interval_seconds == 10.0


def test_a_process_updates_its_own_row_and_forgets_week_old_ones(app):
    with app.app_context():
        record_heartbeat("outbox", "host:1:1:gone", 10)
        db.session.execute(
            WorkerHeartbeat.__table__.update().values(beat_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
        record_heartbeat("outbox", "host:2:1:live", 10)
        record_heartbeat("outbox", "host:2:1:live", 10)
        ids = db.session.scalars(select(WorkerHeartbeat.worker_id)).all()
        assert ids == ["host:2:1:live"]


def _run_loop(app, batches_wanted: int) -> list:
    """Run the real work loop (polling every 10 ms) until it has run ``batches_wanted``
    batches; returns when each batch started."""
    stop, started = threading.Event(), []

    def batch():
        started.append(utcnow())
        return _Counts()

    def work():
        with app.app_context():
            work_until_stopped("outbox worker", batch, stop, 0.01, logging.getLogger("t"))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(started) >= batches_wanted, 10, "the loop's batches")
    finally:
        stop.set()
        thread.join(timeout=10)
    return started


def _rows(app):
    with app.app_context():
        return db.session.execute(select(WorkerHeartbeat)).scalars().all()


def test_the_work_loop_beats_at_most_once_per_interval(app_factory):
    app = app_factory(WORKER_HEARTBEAT_SECONDS=3600)
    started = _run_loop(app, 20)
    (row,) = _rows(app)
    assert (row.worker_name, row.interval_seconds) == ("outbox", 3600.0)
    assert row.beat_at <= started[1]  # the first cycle's beat, never written again


def test_the_work_loop_beats_again_once_its_interval_has_passed(app_factory):
    app = app_factory(WORKER_HEARTBEAT_SECONDS=0)
    started = _run_loop(app, 20)
    (row,) = _rows(app)
    assert row.interval_seconds == 0.01  # never less than the poll interval
    assert row.beat_at > started[10]
