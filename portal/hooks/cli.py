"""``flask hooks``: outbound webhooks from the command line: the worker, endpoints, replays.

Run ``flask hooks work`` as its own long-lived process beside ``flask outbox work`` and
``flask webhooks work`` (any number of them share the queue safely). Every change made here is
audited as the CLI, like the back office's, and a new or rotated secret is printed once.
"""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from portal import audit
from portal.extensions import db
from portal.hooks import endpoints as service
from portal.hooks.catalogue import EVENT_TYPES
from portal.hooks.worker import run_once
from portal.models.hooks import HookDelivery, HookEndpoint
from portal.workers import describe, new_worker_id, serve

log = logging.getLogger("postern.hooks.worker")
hooks_cli = AppGroup("hooks", help="Outbound webhooks to the buyer's systems.")
endpoints_cli = AppGroup("endpoints", help="Webhook endpoints.")
hooks_cli.add_command(endpoints_cli)


@hooks_cli.command("work")
@click.option("--once", is_flag=True, help="Send what is due now, once, and exit.")
@click.option("--poll", "poll_seconds", type=float, default=None, help="Seconds between polls.")
@click.option("--batch", type=int, default=None, help="Deliveries per batch.")
def hooks_work(once, poll_seconds, batch):
    """Keep sending due webhook deliveries until stopped (SIGTERM or Ctrl-C)."""
    if once:
        click.echo(describe(run_once(batch=batch)))
        return
    worker_id = new_worker_id()
    poll = poll_seconds if poll_seconds is not None else current_app.config["HOOKS_POLL_SECONDS"]
    serve("hooks", lambda: run_once(batch=batch, worker_id=worker_id), poll, log)


def _endpoint_or_exit(endpoint_id: int) -> HookEndpoint:
    endpoint = db.session.get(HookEndpoint, endpoint_id)
    if endpoint is None:
        raise click.ClickException(f"no webhook endpoint {endpoint_id}")
    return endpoint


@endpoints_cli.command("create")
@click.argument("url")
@click.option(
    "--event",
    "event_types",
    multiple=True,
    help="An event type to send (repeat it); default: every type.",
)
@click.option("--description", default="")
@click.option("--team", default=None, help="Only this team's requests (default: every team's).")
def endpoints_create(url, event_types, description, team):
    """Register an endpoint and print its signing secret (shown this once)."""
    try:
        endpoint, secret = service.create_endpoint(
            url,
            event_types or list(EVENT_TYPES),
            actor=audit.CLI,
            description=description,
            team=service.team_named(team),
        )
    except ValueError as problem:
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    click.echo(f"created endpoint {endpoint.id} for {endpoint.url}")
    click.echo(f"signing secret (shown once, keep it safe): {secret}")


@endpoints_cli.command("list")
def endpoints_list():
    """Every endpoint: id, state, failures in a row, URL host, event types."""
    rows = service.all_endpoints()
    if not rows:
        click.echo("no webhook endpoints")
    for endpoint in rows:
        state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
        click.echo(
            f"{endpoint.id:4} {state:20} failures {endpoint.consecutive_failures:<4} "
            f"{service.host_of(endpoint.url)}  {','.join(endpoint.event_types)}"
        )


@endpoints_cli.command("disable")
@click.argument("endpoint_id", type=int)
def endpoints_disable(endpoint_id):
    """Stop sending to an endpoint (what it is owed waits)."""
    changed = service.disable(_endpoint_or_exit(endpoint_id), audit.CLI)
    db.session.commit()
    click.echo(f"endpoint {endpoint_id} " + ("disabled" if changed else "was already disabled"))


@endpoints_cli.command("enable")
@click.argument("endpoint_id", type=int)
def endpoints_enable(endpoint_id):
    """Start sending to an endpoint again."""
    changed = service.enable(_endpoint_or_exit(endpoint_id), audit.CLI)
    db.session.commit()
    click.echo(f"endpoint {endpoint_id} " + ("enabled" if changed else "was already enabled"))


@endpoints_cli.command("rotate-secret")
@click.argument("endpoint_id", type=int)
def endpoints_rotate_secret(endpoint_id):
    """A new signing secret, printed once; the old one keeps signing for the overlap window."""
    secret = service.rotate_secret(_endpoint_or_exit(endpoint_id), audit.CLI)
    db.session.commit()
    hours = current_app.config["HOOKS_ROTATION_OVERLAP_HOURS"]
    click.echo(f"new signing secret (shown once): {secret}")
    click.echo(f"the previous secret keeps signing for {hours} hours")


@hooks_cli.command("replay")
@click.argument("delivery_id", type=int)
def hooks_replay(delivery_id):
    """Send one delivery again, as soon as a worker is free."""
    delivery = db.session.get(HookDelivery, delivery_id)
    if delivery is None:
        raise click.ClickException(f"no webhook delivery {delivery_id}")
    try:
        service.replay(delivery, audit.CLI)
    except ValueError as problem:
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    click.echo(f"delivery {delivery_id} will be sent again")
