"""``flask retention purge [--dry-run] [--batch-size N]``: apply the retention policy."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from config.retention import describe_period, retention_period
from portal import audit
from portal.audit.maintenance import MaintenanceRefused
from portal.retention import purge

#: An AppGroup, so each command runs in an app context however it is invoked (tests included).
retention_cli = AppGroup("retention", help="Delete or anonymise data past its retention period.")


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--batch-size", type=click.IntRange(1, 50_000), default=None)
def retention_purge(dry_run, batch_size):
    """Purge every data class past its period, in batches; print the counts per class."""
    size = batch_size or current_app.config["RETENTION_BATCH_SIZE"]
    try:
        report = purge.run(dry_run=dry_run, batch_size=size, actor=audit.RETENTION)
    except MaintenanceRefused as refused:
        raise click.ClickException(str(refused)) from None
    verb = "would purge" if dry_run else "purged"
    for data_class, counts in report.counts.items():
        period = describe_period(retention_period(data_class))
        shown = ", ".join(f"{what}={count}" for what, count in counts.items())
        click.echo(f"{data_class:18} (kept {period:>8}) {verb}: {shown}")
    for data_class, note in report.notes.items():
        click.echo(f"{data_class:18} {note}")
    click.echo(f"{'dry run' if dry_run else 'done'}: {report.total()} item(s), batch size {size}")
