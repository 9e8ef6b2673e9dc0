"""``flask webhooks ...``: operator commands for the queue of Stripe webhook events.

Run ``flask webhooks work`` as its own long-lived process (one or more per deployment; they
share the queue safely), beside the web processes: the webhook endpoint only queues events.
"""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal.extensions import db
from portal.models.payment import ProcessedWebhookEvent
from portal.payments.gateway import StripeGateway
from portal.stripe_events.worker import run_once
from portal.workers import describe, new_worker_id, serve

#: An AppGroup, so each command runs in the app context however it is invoked.
webhooks_cli = AppGroup("webhooks", help="The queue of Stripe webhook events.")
log = logging.getLogger("postern.payments.webhook_worker")


@webhooks_cli.command("run-once")
@click.option("--batch", type=int, default=None, help="At most this many events.")
def webhooks_run_once(batch):
    """Handle the events due now, once, and exit."""
    click.echo(describe(run_once(batch=batch, worker_id=new_worker_id())))


@webhooks_cli.command("work")
@click.option("--poll", "poll_seconds", type=float, default=None, help="Seconds between polls.")
@click.option("--batch", type=int, default=None, help="Events per batch.")
def webhooks_work(poll_seconds, batch):
    """Keep handling queued events until stopped (SIGTERM or Ctrl-C)."""
    worker_id, gateway = new_worker_id(), StripeGateway.for_app()
    poll = poll_seconds if poll_seconds is not None else current_app.config["WEBHOOK_POLL_SECONDS"]
    serve(
        "webhook worker",
        lambda: run_once(batch=batch, worker_id=worker_id, gateway=gateway),
        poll,
        log,
    )


@webhooks_cli.command("status")
def webhooks_status():
    """How many events came to each outcome, and how old the oldest queued one is."""
    rows = db.session.execute(
        select(
            ProcessedWebhookEvent.outcome,
            func.count(),
            func.min(ProcessedWebhookEvent.received_at),
        )
        .group_by(ProcessedWebhookEvent.outcome)
        .order_by(ProcessedWebhookEvent.outcome)
    ).all()
    if not rows:
        click.echo("no webhook events received")
    for outcome, count, oldest in rows:
        since = f" (oldest received {oldest:%Y-%m-%d %H:%M:%S} UTC)" if outcome == "queued" else ""
        click.echo(f"{outcome:9} {count}{since}")
