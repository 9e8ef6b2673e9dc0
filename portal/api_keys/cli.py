"""``flask apikeys create|list|revoke``: API keys from the command line, audited as the CLI."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal import audit
from portal.api_keys import service
from portal.api_keys.scopes import SCOPES
from portal.extensions import db
from portal.models.staff import StaffUser, Team
from portal.security.authz import Permission, has_permission

apikeys_cli = AppGroup("apikeys", help="API keys for integrations (the /api/v1 API).")


def _admin_or_exit(username: str) -> StaffUser:
    user = db.session.execute(
        select(StaffUser).where(StaffUser.username == username)
    ).scalar_one_or_none()
    if user is None or not user.is_active:
        raise click.ClickException(f"no active staff account named {username!r}")
    if not has_permission(user.role, Permission.SETTINGS_MANAGE):
        raise click.ClickException(f"{username!r} is not an administrator")
    return user


@apikeys_cli.command("create")
@click.argument("name")
@click.option("--team", "team_name", required=True, help="The team the key acts for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(list(SCOPES)),
    help="Repeat for each scope.",
)
@click.option(
    "--by",
    "admin",
    required=True,
    help="The administrator accountable for the key (refunds it asks for are in their name).",
)
def create(name: str, team_name: str, scopes: tuple[str, ...], admin: str) -> None:
    """Create a key and print it. It is shown this once: store it in the integration now."""
    created_by = _admin_or_exit(admin)
    team = db.session.execute(select(Team).where(Team.name == team_name)).scalar_one_or_none()
    if team is None:
        raise click.ClickException(f"no team named {team_name!r}")
    try:
        created = service.create_key(name, team, scopes, created_by=created_by, actor=audit.CLI)
    except service.ApiKeyError as problem:
        db.session.rollback()
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    click.echo(f"Created API key {created.key.prefix} ({name}) for team {team.name}.")
    click.echo("Store it now; it is not shown again:")
    click.echo(created.text)


@apikeys_cli.command("list")
def list_keys() -> None:
    """Every key: prefix, name, team, scopes, last used, revoked."""
    for key in service.all_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        click.echo(
            f"{key.prefix}  {key.name}  team={key.team.name}  scopes={key.scopes.replace(' ', ',')}"
            f"  last used {used}  {state}"
        )


@apikeys_cli.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the key shown as PREFIX (``pstn_live_xxxxxxxx``): it stops working at once."""
    key = service.find_by_prefix(prefix)
    if key is None:
        raise click.ClickException(f"no API key {prefix!r}")
    try:
        service.revoke(key, revoked_by=None, actor=audit.CLI)
    except service.ApiKeyError as problem:
        db.session.rollback()
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    click.echo(f"Revoked API key {key.prefix}.")
