"""``flask payments ...``: operator commands for card payments. The Stripe webhook queue's
commands (``flask webhooks ...``) are ``portal.stripe_events.cli``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from portal import audit
from portal.payments.gateway import StripeGateway
from portal.payments.reconcile import ReconcileOptions, reconcile

#: An AppGroup, so each command runs in the app context however it is invoked.
payments_cli = AppGroup("payments", help="Card payments (Stripe).")


@payments_cli.command("reconcile")
@click.option(
    "--dispute-days",
    type=click.IntRange(min=0),
    default=ReconcileOptions.dispute_lookback_days,
    show_default=True,
    help="Also ask Stripe for disputes of every payment made in the last this many days.",
)
def payments_reconcile(dispute_days):
    """Ask Stripe about every payment not yet final, every refund that may still move and every
    open dispute, and repair what a lost webhook left behind. Prints each change; exits 1 if
    some could not be checked."""
    report = reconcile(
        gateway=StripeGateway.from_config(),
        actor=audit.RECONCILE,
        options=ReconcileOptions(dispute_lookback_days=dispute_days),
    )
    for change in report.changes:
        click.echo(f"changed {change.line()}")
    for public_id, intent_id, code in report.errors:
        click.echo(f"could not check {public_id} {intent_id}: {code}", err=True)
    click.echo(report.summary())
    if report.errors:
        sys.exit(1)
