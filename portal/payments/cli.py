"""``flask payments ...``: operator commands for card payments. The Stripe webhook queue's
commands (``flask webhooks ...``) are ``portal.stripe_events.cli``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from portal import audit
from portal.payments.gateway import StripeGateway
from portal.payments.reconcile import reconcile

#: An AppGroup, so each command runs in the app context however it is invoked.
payments_cli = AppGroup("payments", help="Card payments (Stripe).")


@payments_cli.command("reconcile")
def payments_reconcile():
    """Ask Stripe about every payment not yet final and repair what a lost webhook left
    behind. Prints each change; exits 1 if some payments could not be checked."""
    report = reconcile(gateway=StripeGateway.from_config(), actor=audit.RECONCILE)
    for change in report.changes:
        click.echo(f"changed {change.line()}")
    for public_id, intent_id, code in report.errors:
        click.echo(f"could not check {public_id} {intent_id}: {code}", err=True)
    click.echo(report.summary())
    if report.errors:
        sys.exit(1)
