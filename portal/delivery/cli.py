"""``flask outbox``: run the delivery worker and look at the queue (no destinations, no bodies).

Run ``flask outbox work`` as its own long-lived process (one or more per deployment; they
share the queue safely). It stops cleanly on SIGTERM or SIGINT after the message in hand; if
the provider accepted that message while the database is away, it first keeps trying to record
it for a grace period (see ``portal.delivery.worker``). Only a worker killed outright between
a provider's acceptance and its record may send that message a second time.
"""

from __future__ import annotations

import logging
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal.delivery.worker import run_once
from portal.extensions import db
from portal.models.delivery import DeliveryMessage
from portal.workers import describe, new_worker_id, serve

log = logging.getLogger("postern.delivery.worker")
outbox_cli = AppGroup("outbox", help="The outbox of link messages (SMS and email).")


@outbox_cli.command("run-once")
@click.option("--batch", type=int, default=None, help="At most this many messages.")
def outbox_run_once(batch):
    """Send what is due now, once, and exit."""
    click.echo(describe(run_once(batch=batch)))


@outbox_cli.command("work")
@click.option("--poll", "poll_seconds", type=float, default=None, help="Seconds between polls.")
@click.option("--batch", type=int, default=None, help="Messages per batch.")
def outbox_work(poll_seconds, batch):
    """Keep sending due messages until stopped (SIGTERM or Ctrl-C)."""
    worker_id = new_worker_id()
    poll = poll_seconds if poll_seconds is not None else current_app.config["DELIVERY_POLL_SECONDS"]
    # The batch sees the stop signal too: a worker holding an unrecorded acceptance must know
    # when to start counting down its grace period.
    stop = threading.Event()
    serve(
        "outbox worker",
        lambda: run_once(batch=batch, worker_id=worker_id, stop=stop),
        poll,
        log,
        stop,
    )


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
