"""``flask alerts check``: look at every security condition once and email admins what is due
(cron it every minute or few where no worker runs the checks; running it beside the workers is
harmless: the throttle is kept in the database)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal import audit
from portal.security_alerts import run_checks

alerts_cli = AppGroup("alerts", help="Security notifications to admins.")


@alerts_cli.command("check")
def alerts_check():
    """Check each condition now; queue the notifications that are due (sent by the outbox
    worker). Prints one line per condition."""
    for outcome in run_checks(actor=audit.CLI):
        click.echo(outcome.describe())
