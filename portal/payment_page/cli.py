"""``flask integrity``: record and check what browsers receive for the payment page.

    flask integrity baseline URL [--output PATH]   record the page's headers and scripts
    flask integrity check URL [--baseline PATH]    compare; exit 1 on any drift
    flask integrity reports [--days N]             CSP violations browsers reported

URL is the payment page, or the customer link that leads to it (the check presses Start and
answers the identity question, ``--answer``, as a customer would), or with ``--probe-as
USER`` the site's base URL (a fresh link is made, walked and revoked: for cron). Exit codes:
0 no drift, 1 drift (each difference printed on its own line), 2 the check could not run.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal import audit
from portal.extensions import db
from portal.models.csp_report import CspReport
from portal.models.types import utcnow
from portal.payment_page import page_check, walk
from portal.payment_page.inventory import InventoryError, load_inventory
from portal.payment_page.reports import path_masker

integrity_cli = AppGroup(
    "integrity", help="Payment-page integrity: baseline and drift check (PCI DSS 11.6.1)."
)
BASELINE_NAME = "payment-page-baseline.json"
EXIT_DRIFT, EXIT_CANNOT_CHECK = 1, 2


def _default_baseline() -> Path:
    return Path(current_app.instance_path) / BASELINE_NAME


def _fetch_options(command):
    options = [
        click.argument("url"),
        click.option("--cookie", "cookies", multiple=True, metavar="NAME=VALUE"),
        click.option(
            "--answer",
            envvar="POSTERN_INTEGRITY_ANSWER",
            help="Answer to the link's identity question (or env POSTERN_INTEGRITY_ANSWER).",
        ),
        click.option("--probe-as", metavar="USERNAME", help="Make a fresh link as this agent."),
        click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False)),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _cannot_check(message: str):
    click.echo(f"cannot check: {message}", err=True)
    raise SystemExit(EXIT_CANNOT_CHECK)


def _inventory(path: str | None):
    try:
        return load_inventory(current_app.config, Path(path) if path else None)
    except InventoryError as problem:
        _cannot_check(str(problem))


def _snapshot(url, cookies, answer, probe_as, inventory) -> page_check.Snapshot:
    mask = path_masker(current_app)
    session = requests.Session()
    for cookie in cookies:
        name, _, value = cookie.partition("=")
        session.cookies.set(name.strip(), value.strip())
    probe = None
    try:
        if probe_as:
            try:
                probe, url = walk.probe_link(probe_as, url)
            except (LookupError, ValueError) as problem:
                db.session.rollback()
                _cannot_check(str(problem))
            db.session.commit()
        if mask(urlsplit(url).path) != inventory.page_path:
            url = walk.reach_payment_page(session, url, mask, inventory.page_path, answer)
        return page_check.take_snapshot(session, url, mask)
    except page_check.FetchError as problem:
        _cannot_check(str(problem))
    finally:
        if probe:
            walk.close_probe(probe)


@integrity_cli.command("baseline")
@_fetch_options
@click.option(
    "--output", type=click.Path(dir_okay=False), help=f"Default: instance/{BASELINE_NAME}"
)
def baseline(url, cookies, answer, probe_as, inventory_path, output):
    """Record the payment page's security headers and scripts as the baseline."""
    inventory = _inventory(inventory_path)
    snapshot = _snapshot(url, cookies, answer, probe_as, inventory)
    https = urlsplit(url).scheme == "https"
    problems = page_check.drift(snapshot, inventory, None, https=https)
    if problems:
        click.echo("not recording a baseline: the page already breaks the rules:")
        for problem in problems:
            click.echo(f"  - {problem}")
        raise SystemExit(EXIT_DRIFT)
    path = Path(output) if output else _default_baseline()
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**snapshot.to_json(), "recorded_at": utcnow().isoformat(timespec="seconds")}
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    audit.record(
        "integrity.baseline_recorded",
        target_type="page",
        target_id=snapshot.page,
        details={"scripts": len(snapshot.scripts)},
        actor=audit.CLI,
    )
    db.session.commit()
    click.echo(f"baseline for {snapshot.page} written to {path} ({len(snapshot.scripts)} scripts)")


@integrity_cli.command("check")
@_fetch_options
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False))
@click.option("--quiet", is_flag=True, help="Print nothing when there is no drift (cron).")
def check(url, cookies, answer, probe_as, inventory_path, baseline_path, quiet):
    """Compare the payment page with the inventory and the baseline; exit 1 on any drift."""
    inventory = _inventory(inventory_path)
    path = Path(baseline_path) if baseline_path else _default_baseline()
    try:
        recorded = page_check.Snapshot.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as problem:
        _cannot_check(f"no usable baseline at {path} ({problem}); run `flask integrity baseline`")
    snapshot = _snapshot(url, cookies, answer, probe_as, inventory)
    https = urlsplit(url).scheme == "https"
    problems = page_check.drift(snapshot, inventory, recorded, https=https)
    audit.record(
        "integrity.checked",
        outcome="failure" if problems else "success",
        target_type="page",
        target_id=snapshot.page,
        details={"drift": len(problems), "scripts": len(snapshot.scripts)},
        actor=audit.CLI,
    )
    db.session.commit()
    if problems:
        click.echo(f"DRIFT on {snapshot.page}: {len(problems)} difference(s)")
        for problem in problems:
            click.echo(f"  - {problem}")
        raise SystemExit(EXIT_DRIFT)
    if not quiet:
        click.echo(
            f"no drift on {snapshot.page}: {len(snapshot.scripts)} scripts and the security "
            f"headers match the inventory and the baseline ({path})"
        )


@integrity_cli.command("reports")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366))
def reports_summary(days):
    """CSP violations browsers reported in the last DAYS days, most frequent first."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        select(
            CspReport.effective_directive,
            CspReport.blocked_uri,
            CspReport.document_uri,
            func.count(),
        )
        .where(CspReport.received_at >= since)
        .group_by(CspReport.effective_directive, CspReport.blocked_uri, CspReport.document_uri)
        .order_by(func.count().desc())
    ).all()
    if not rows:
        click.echo(f"no CSP violations reported in the last {days} days")
        return
    for directive, blocked, document, count in rows:
        click.echo(f"{count:6}  {directive or '?'}  blocked {blocked or '?'}  on {document or '?'}")
