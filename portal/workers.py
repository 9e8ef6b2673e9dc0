"""What every background worker shares (``flask outbox work``, ``flask webhooks work``): its
lease-holder id, its retry backoff, and its loop: run a batch, sleep when there was nothing to
do, keep going through a database that went away, beat its heartbeat, and stop cleanly on
SIGTERM or SIGINT after the batch in hand.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

import click
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db
from portal.observability.heartbeats import record_heartbeat
from portal.observability.worker_exporter import start_worker_exporter

_jitter = secrets.SystemRandom()
#: ``app.extensions`` key of a job every worker loop runs after each batch, pacing itself (the
#: security checks, set by ``portal.cli``: they import this module, so it cannot import them).
BETWEEN_BATCHES = "postern.between_batches"


def new_worker_id() -> str:
    """Who holds a lease: host, process, thread, and a random part (a restarted process may
    get the same pid)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{threading.get_ident() % 100000}:" + (
        secrets.token_hex(3)
    )


def retry_delay(attempt: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Wait before retry number ``attempt`` (1-based): base * 2**(attempt-1), capped, + 0-25%.

    The jitter spreads retries out so a provider coming back is not hit by every worker at once.
    """
    delay = min(base_seconds * 2 ** (attempt - 1), max_seconds)
    return timedelta(seconds=delay * (1 + _jitter.uniform(0, 0.25)))


class BatchCounts(Protocol):
    claimed: int

    def as_dict(self) -> dict[str, int]: ...


def describe(counts: BatchCounts) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.as_dict().items())


#: The heartbeat name of each worker loop, by the name it is run under (``serve``).
HEARTBEAT_NAMES = {"outbox worker": "outbox", "webhook worker": "webhooks"}


class Heartbeat:
    """Beats for one worker process after each cycle of its loop, at most once per interval:
    the interval is ``WORKER_HEARTBEAT_SECONDS``, or the poll interval if that is longer."""

    def __init__(self, name: str, poll_seconds: float):
        self.name, self.worker_id = name[:32], new_worker_id()
        configured = float(current_app.config["WORKER_HEARTBEAT_SECONDS"])
        self.interval_seconds = max(configured, poll_seconds)
        self._next_at = 0.0

    def beat_if_due(self, log: logging.Logger) -> None:
        """A beat that cannot be written is tried again next cycle; the batch it follows has
        committed, so the loop goes on (if the database is away, the next batch says so)."""
        if time.monotonic() < self._next_at:
            return
        try:
            record_heartbeat(self.name, self.worker_id, self.interval_seconds)
        except SQLAlchemyError as problem:
            log.warning("%s: heartbeat not recorded (%s)", self.name, type(problem).__name__)
            return
        self._next_at = time.monotonic() + self.interval_seconds


def work_until_stopped(
    name: str,
    run_once: Callable[[], BatchCounts],
    stop: threading.Event,
    poll_seconds: float,
    log: logging.Logger,
) -> None:
    """Run batches until ``stop`` is set, sleeping ``poll_seconds`` when there was nothing.
    After each batch that did not fail, the worker's heartbeat is recorded if it is due."""
    heartbeat = Heartbeat(HEARTBEAT_NAMES.get(name, name), poll_seconds)
    while not stop.is_set():
        try:
            counts = run_once()
            heartbeat.beat_if_due(log)
            current_app.extensions.get(BETWEEN_BATCHES, lambda: None)()
        except Exception as problem:  # noqa: BLE001  (database away: wait and try again)
            db.session.rollback()
            log.error("%s: %s; retrying shortly", name, type(problem).__name__)
            stop.wait(max(poll_seconds, 5))
            continue
        if counts.claimed:
            log.info("%s: %s", name, describe(counts))
        else:
            stop.wait(poll_seconds)


def serve(
    name: str,
    run_once: Callable[[], BatchCounts],
    poll_seconds: float,
    log: logging.Logger,
    stop: threading.Event | None = None,
) -> None:
    """``work_until_stopped`` in the foreground, until SIGTERM or Ctrl-C. Pass ``stop`` when the
    batch itself must see the signal (the outbox worker counts down a grace period with it)."""
    stop = stop or threading.Event()

    def _stop(signum, _frame):
        click.echo(f"{name}: {signal.Signals(signum).name} received, stopping")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    exporter = start_worker_exporter(current_app._get_current_object(), name)
    click.echo(f"{name}: polling every {poll_seconds:g}s (stop with Ctrl-C)")
    try:
        work_until_stopped(name, run_once, stop, poll_seconds, log)
    finally:
        if exporter is not None:
            exporter.shutdown()
    click.echo(f"{name}: stopped")
