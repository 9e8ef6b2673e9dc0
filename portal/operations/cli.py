"""``flask ops restore-drill``: restore a backup into a scratch database and prove it usable.

Exit status 0 when every check passed; 1 when any failed (or the installation is not on
PostgreSQL), with the report saying which. Each drill is recorded in the audit trail
(``ops.restore_drill``, as the CLI), passed or failed. docs/operations.md says how often to run
it and what it proves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from portal import audit
from portal.extensions import db
from portal.operations import restore_drill
from portal.operations.report import DrillReport

#: An AppGroup, so each command runs in an app context however it is invoked (tests included).
ops_cli = AppGroup("ops", help="Operating the installation: backups and the restore drill.")


@ops_cli.command("restore-drill")
@click.option(
    "--from-dump",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Restore this dump (pg_dump -Fc) instead of taking one of the live database.",
)
@click.option(
    "--scratch-server",
    envvar="POSTERN_DRILL_SCRATCH_SERVER_URL",
    metavar="URL",
    help="A database URL on the server to restore into, as a login with CREATEDB "
    "(default: DATABASE_URL). Env: POSTERN_DRILL_SCRATCH_SERVER_URL.",
)
@click.option(
    "--pg-bin",
    envvar="POSTERN_PG_BIN",
    metavar="DIR",
    help="Directory of pg_dump and pg_restore (default: PATH), e.g. /usr/lib/postgresql/16/bin.",
)
@click.option(
    "--sample",
    "sample_requests",
    type=click.IntRange(0, 10_000),
    default=20,
    show_default=True,
    help="How many capture requests' values to decrypt.",
)
@click.option("--keep", is_flag=True, help="Keep the scratch database (drop it yourself).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def restore_drill_command(from_dump, scratch_server, pg_bin, sample_requests, keep, as_json):
    """Dump the database (or take --from-dump), restore it into a fresh scratch database,
    verify the audit trail there, decrypt a sample of captured values, report, drop it."""
    _refuse_password_on_command_line(click.get_current_context(), scratch_server)
    report = restore_drill.run(
        current_app.config,
        scratch_server_url=scratch_server,
        from_dump=from_dump,
        pg_bin=pg_bin,
        sample_requests=sample_requests,
        keep=keep,
    )
    _record(report)
    if as_json:
        click.echo(json.dumps(report.to_json(), sort_keys=True))
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        sys.exit(1)


def _record(report: DrillReport) -> None:
    """Audit the drill in the live database; a drill that cannot be audited has failed."""
    try:
        audit.record(
            restore_drill.AUDIT_ACTION,
            actor=audit.CLI,
            outcome="success" if report.ok else "failure",
            target_type="database",
            details=report.audit_details(),
        )
        db.session.commit()
    except SQLAlchemyError as problem:
        db.session.rollback()
        reason = str(getattr(problem, "orig", None) or problem).splitlines()[0][:300]
        report.fail("audit record", f"the drill could not be recorded in the audit trail: {reason}")


def _refuse_password_on_command_line(context: click.Context, scratch_server: str | None) -> None:
    """A command line is visible to every user of the host (``ps``); the environment is not."""
    if not scratch_server:
        return
    source = context.get_parameter_source("scratch_server")
    try:
        password = make_url(scratch_server).password
    except ArgumentError:
        return  # not a URL: the drill's own step says so
    if password and source is ParameterSource.COMMANDLINE:
        raise click.UsageError(
            "--scratch-server holds a password, which any user of this host could read from "
            "the process list: set POSTERN_DRILL_SCRATCH_SERVER_URL instead, or use a "
            "password file (~/.pgpass)"
        )
