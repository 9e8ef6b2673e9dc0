"""``flask outbox``: run the delivery worker and look at the queue (no destinations, no bodies).

Run ``flask outbox work`` as its own long-lived process (one or more per deployment; they
share the queue safely). It stops cleanly on SIGTERM or SIGINT after the message in hand.
"""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal.delivery.worker import new_worker_id, run_once
from portal.extensions import db
from portal.models.delivery import DeliveryMessage

log = logging.getLogger("postern.delivery.worker")
outbox_cli = AppGroup("outbox", help="The outbox of link messages (SMS and email).")


def _describe(counts) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.as_dict().items())


@outbox_cli.command("run-once")
@click.option("--batch", type=int, default=None, help="At most this many messages.")
def outbox_run_once(batch):
    """Send what is due now, once, and exit."""
    counts = run_once(batch=batch)
    click.echo(_describe(counts))


def work_until_stopped(stop: threading.Event, poll_seconds: float, batch: int | None) -> None:
    """Run batches until ``stop`` is set, sleeping ``poll_seconds`` when there was nothing."""
    worker_id = new_worker_id()
    while not stop.is_set():
        try:
            counts = run_once(batch=batch, worker_id=worker_id)
        except Exception as problem:  # noqa: BLE001  (database away: wait and try again)
            db.session.rollback()
            log.error("outbox worker: %s; retrying shortly", type(problem).__name__)
            stop.wait(max(poll_seconds, 5))
            continue
        if counts.claimed:
            log.info("outbox worker: %s", _describe(counts))
        else:
            stop.wait(poll_seconds)


@outbox_cli.command("work")
@click.option("--poll", "poll_seconds", type=float, default=None, help="Seconds between polls.")
@click.option("--batch", type=int, default=None, help="Messages per batch.")
def outbox_work(poll_seconds, batch):
    """Keep sending due messages until stopped (SIGTERM or Ctrl-C)."""
    stop = threading.Event()

    def _stop(signum, _frame):
        click.echo(f"outbox worker: {signal.Signals(signum).name} received, stopping")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    poll = poll_seconds if poll_seconds is not None else current_app.config["DELIVERY_POLL_SECONDS"]
    click.echo(f"outbox worker: polling every {poll:g}s (stop with Ctrl-C)")
    work_until_stopped(stop, poll, batch)
    click.echo("outbox worker: stopped")


@outbox_cli.command("status")
def outbox_status():
    """How many messages are in each status, per channel."""
    rows = db.session.execute(
        select(DeliveryMessage.channel, DeliveryMessage.status, func.count())
        .group_by(DeliveryMessage.channel, DeliveryMessage.status)
        .order_by(DeliveryMessage.channel, DeliveryMessage.status)
    ).all()
    if not rows:
        click.echo("the outbox is empty")
    for channel, status, count in rows:
        click.echo(f"{channel:6} {status:10} {count}")
