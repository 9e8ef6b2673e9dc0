"""``flask`` commands for operators: staff accounts, the audit chain, demo data."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal import audit
from portal.audit import anchors, pending, sealer
from portal.audit.checkpoints import verify_audit_chain
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.staff import StaffUser
from portal.security.authz import Role, mfa_required
from portal.security.passwords import PasswordPolicyError
from portal.staff import accounts as staff_accounts
from portal.staff import login
from portal.staff.accounts import get_or_create_team  # noqa: F401  (re-exported)

ROLE_CHOICE = click.Choice([role.value for role in Role])

# AppGroups, so each command runs in an app context however it is invoked (the ``flask`` script,
# ``app.test_cli_runner()``); a plain click.Group gets one only from the ``flask`` script.
users_cli = AppGroup("users", help="Manage staff accounts.")
audit_cli = AppGroup("audit", help="The audit trail.")


def _user_or_exit(username: str) -> StaffUser:
    user = login.find_user(username)
    if user is None:
        raise click.ClickException(f"no staff account named {username!r}")
    return user


def create_staff(
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    team: str | None = None,
    email: str | None = None,
    actor: audit.Actor = audit.CLI,
) -> StaffUser:
    """Create a staff account (``portal.staff.accounts.create_staff``, acting as the CLI by
    default). Raises ValueError or PasswordPolicyError. Caller commits."""
    return staff_accounts.create_staff(
        username, password, role, display_name=display_name, team=team, email=email, actor=actor
    )


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True)
@click.option("--name", "display_name", default="", help="Name shown to colleagues.")
@click.option("--team", default=None, help="Team name (created if new).")
@click.option("--email", default=None)
@click.password_option(help="Prompted for, twice, if not given.")
def users_create(username, role, display_name, team, email, password):
    """Create a staff account."""
    try:
        user = create_staff(
            username, password, role, display_name=display_name, team=team, email=email
        )
    except (ValueError, PasswordPolicyError) as problem:
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    note = " (must enrol MFA at first login)" if mfa_required(user.role) else ""
    click.echo(f"created {user.username} as {user.role}{note}")


@users_cli.command("disable")
@click.argument("username")
def users_disable(username):
    """Disable an account and end its sessions."""
    user = _user_or_exit(username)
    ended = staff_accounts.disable(user, actor=audit.CLI)
    db.session.commit()
    click.echo(f"disabled {user.username}; {ended} session(s) ended")


@users_cli.command("enable")
@click.argument("username")
def users_enable(username):
    """Re-enable a disabled account."""
    user = _user_or_exit(username)
    staff_accounts.enable(user, actor=audit.CLI)
    db.session.commit()
    click.echo(f"enabled {user.username}")


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
def users_set_role(username, role):
    """Change an account's role; its sessions end so the new rights apply at once."""
    user = _user_or_exit(username)
    old = user.role
    staff_accounts.set_role(user, role, actor=audit.CLI)
    db.session.commit()
    click.echo(f"{user.username}: {old} -> {role}")


@users_cli.command("reset-mfa")
@click.argument("username")
def users_reset_mfa(username):
    """Remove an account's second factor; it must enrol again at next login if its role needs it."""
    user = _user_or_exit(username)
    staff_accounts.reset_mfa(user, actor=audit.CLI)
    db.session.commit()
    click.echo(f"second factor removed for {user.username}")


@users_cli.command("reset-password")
@click.argument("username")
@click.option(
    "--lost-authenticator",
    is_flag=True,
    help="Also remove the second factor: they set up their authenticator again.",
)
def users_reset_password(username, lost_authenticator):
    """Give an account a temporary password (printed once) that must be changed at its next
    sign-in, after the second factor; all its sessions end."""
    user = _user_or_exit(username)
    reset = staff_accounts.reset_password(
        user, lost_authenticator=lost_authenticator, actor=audit.CLI
    )
    db.session.commit()
    click.echo(f"temporary password for {user.username}: {reset.temporary_password}")
    click.echo(
        f"{reset.sessions_ended} session(s) ended; they choose a new password at next sign-in"
        + ("; second factor removed" if reset.second_factor_reset else "")
    )


@users_cli.command("list")
def users_list():
    """List staff accounts (no secrets)."""
    for user in db.session.execute(select(StaffUser).order_by(StaffUser.username)).scalars():
        state = "active" if user.is_active else "disabled"
        team = user.team.name if user.team else "-"
        click.echo(
            f"{user.username:20} {user.role:11} {team:14} {state:8} "
            f"mfa={'on' if user.mfa_enabled else 'off'}"
        )


@audit_cli.command("verify")
def audit_verify():
    """Walk the audit chain and compare its end with the last anchor; anchor it if all is well.

    Exits 1 naming the first row that was edited, inserted or deleted, or saying that the
    newest rows were deleted (the chain ends before the last anchor) or the anchor is forged.
    """
    tail = anchors.check_tail()  # before the walk: a new anchor must never hide a truncation
    # From the retention checkpoint, if retention has deleted the oldest rows.
    result = verify_audit_chain()
    # The rows not yet sealed: each by its HMAC, every lane without gaps.
    waiting = pending.check(db.session())
    if not tail.ok:
        click.echo(tail.describe())
        if result.ok:
            click.echo(
                f"the {result.rows_checked} rows still there link up among themselves, but the "
                "chain is not intact"
            )
    if not result.ok:
        click.echo(result.describe())
    if not waiting.ok:
        click.echo(waiting.describe())
    if not (tail.ok and result.ok and waiting.ok):
        click.echo("no new anchor written; tell your security lead (docs/audit-trail.md)")
        sys.exit(1)
    click.echo(result.describe())
    if waiting.pending:
        click.echo(waiting.describe())
    _echo_anchor(result.last_seq)


@audit_cli.command("seal")
@click.option("--once", is_flag=True, help="Seal everything pending now, then exit.")
@click.option("--poll", "poll_seconds", type=float, default=None, help="Seconds between polls.")
def audit_seal(once, poll_seconds):
    """Link pending audit rows into the chain until stopped (SIGTERM or Ctrl-C): run it as its
    own long-lived process beside the other workers (docs/audit-trail.md)."""
    from portal.workers import describe, serve

    if once:
        sealed = refused = 0
        while True:  # batch after batch, until one is not full (it has caught up)
            counts = sealer.run_once()
            sealed, refused = sealed + counts.claimed, max(refused, counts.refused)
            if counts.claimed + counts.refused < sealer.BATCH_SIZE:
                break
        click.echo(describe(sealer.SealCounts(sealed, refused)))
        return
    poll = poll_seconds
    if poll is None:
        poll = current_app.config["AUDIT_SEAL_POLL_SECONDS"]
    serve("audit sealer", sealer.run_once, poll, sealer.log)


@audit_cli.command("anchor")
def audit_anchor():
    """Anchor the audit chain's end (cron it): checks the rows added since the last anchor
    (the whole chain the first time), then records the newest row's seq and hash, signed, in
    the database and the JSON log. Exits 1, anchoring nothing, if the chain is damaged."""
    tail = anchors.check_tail()
    if not tail.ok:
        click.echo(tail.describe())
        click.echo("no new anchor written; run flask audit verify")
        sys.exit(1)
    anchored_row_gone = tail.anchor is not None and tail.anchor.seq < _first_seq()
    if tail.anchor is None or anchored_row_gone:
        result = verify_audit_chain()
    else:
        result = anchors.verify_since_anchor(tail.anchor)
    if not result.ok:
        click.echo(result.describe())
        click.echo("no new anchor written; run flask audit verify")
        sys.exit(1)
    _echo_anchor(result.last_seq)


def _first_seq() -> int:
    return db.session.execute(select(func.min(AuditEvent.seq))).scalar() or 0


def _echo_anchor(verified_up_to: int | None) -> None:
    anchor = anchors.write_anchor(verified_up_to) if verified_up_to else None
    if anchor is None:
        click.echo("nothing to anchor: the audit trail is empty")
    else:
        click.echo(
            f"anchored at seq {anchor.seq} ({anchor.row_hash[:16]}...) at "
            f"{anchors.when(anchor.anchored_at)}"
        )


def register(app: Flask) -> None:
    from portal.api_keys.cli import apikeys_cli
    from portal.delivery.cli import outbox_cli
    from portal.demo import demo_cli
    from portal.disputes.reconcile import repair_disputes
    from portal.hooks.cli import hooks_cli
    from portal.operations.cli import ops_cli
    from portal.payment_page.cli import integrity_cli
    from portal.payments.cli import payments_cli
    from portal.payments.reconcile import REPAIRS as RECONCILE_REPAIRS
    from portal.personal_data.commands import keys_cli
    from portal.refunds.reconcile import repair_refunds
    from portal.retention.cli import retention_cli
    from portal.security_alerts import run_due_checks
    from portal.security_alerts.cli import alerts_cli
    from portal.stripe_events.cli import webhooks_cli
    from portal.workers import BETWEEN_BATCHES

    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(integrity_cli)
    app.cli.add_command(retention_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(hooks_cli)
    # The worker loops (flask outbox work, flask webhooks work) run the security checks too.
    app.extensions[BETWEEN_BATCHES] = run_due_checks
    # flask payments reconcile repairs refunds and disputes too (installed: both build on it).
    app.extensions[RECONCILE_REPAIRS] = (repair_refunds, repair_disputes)
    app.cli.add_command(ops_cli)
    app.cli.add_command(apikeys_cli)
