"""``flask demo``: demo staff accounts for the embedded default, one per role.

Passwords are generated at first seeding and kept in ``instance/demo-credentials.json``
(mode 0600) so that re-running the demo prints the same logins. The file keeps each database's
accounts apart (keyed by the database's address, without its password): seeding a second
database adds its logins beside the first one's instead of overwriting them. Refused in
production.
"""

from __future__ import annotations

import json
import os
import secrets

import click
import pyotp
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from config.settings import INSTANCE_DIR
from portal import audit
from portal.extensions import db
from portal.models.staff import StaffUser
from portal.security.authz import mfa_required
from portal.staff import accounts, mfa

demo_cli = AppGroup("demo", help="Demo data for the embedded default (never in production).")

DEMO_STAFF = [
    # username, display name, role, team
    ("agent.amy", "Amy Agent", "agent", "North"),
    ("agent.ben", "Ben Agent", "agent", "South"),
    ("super.sam", "Sam Supervisor", "supervisor", "North"),
    ("office.olu", "Olu Back-Office", "backoffice", None),
    # A second back-office person: a refund above the dual-control limit needs someone other
    # than the one who asked for it to approve it.
    ("office.pat", "Pat Back-Office", "backoffice", None),
    ("admin.ada", "Ada Admin", "admin", None),
    ("audit.ali", "Ali Auditor", "auditor", None),
]
CREDENTIALS_FILE = INSTANCE_DIR / "demo-credentials.json"


def _refuse_in_production() -> None:
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("demo commands are disabled in production")


def _passphrase() -> str:
    words = [
        "amber",
        "birch",
        "cobalt",
        "delta",
        "ember",
        "fjord",
        "garnet",
        "harbor",
        "indigo",
        "juniper",
        "kestrel",
        "lagoon",
        "meadow",
        "nickel",
        "orchid",
        "pebble",
        "quartz",
        "raven",
        "saffron",
        "timber",
        "umber",
        "violet",
        "willow",
        "yarrow",
        "zephyr",
    ]
    return "-".join(secrets.choice(words) for _ in range(4)) + str(secrets.randbelow(90) + 10)


#: The file's top-level key holding one entry per database.
DATABASES = "databases"


def database_key() -> str:
    """Which database the accounts live in: its address without the password (SQLite: the
    absolute file path Flask-SQLAlchemy resolved)."""
    return db.engine.url.render_as_string(hide_password=True)


def _load_file() -> dict:
    if not CREDENTIALS_FILE.exists():
        return {DATABASES: {}}
    content = json.loads(CREDENTIALS_FILE.read_text())
    if DATABASES not in content:
        # Written before the file was kept per database: one database's accounts, flat. They
        # belong to the database seeded then, which is the one being seeded again (make run's).
        return {DATABASES: {database_key(): content}}
    return content


def _load_credentials() -> dict:
    """This database's demo accounts: ``{username: {"password", "role", "totp_secret"}}``."""
    return dict(_load_file()[DATABASES].get(database_key(), {}))


def _save_credentials(credentials: dict) -> None:
    """Keep this database's accounts, leaving every other database's as they were."""
    content = _load_file()
    content[DATABASES][database_key()] = credentials
    INSTANCE_DIR.mkdir(exist_ok=True)
    fd = os.open(CREDENTIALS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(content, handle, indent=2)


@demo_cli.command("seed")
def seed():
    """Create one demo account per role (idempotent) and print how to log in.

    Every account whose role needs a second factor (``mfa_required``: every role that reads
    beyond its own requests, and agents when AGENT_MFA_REQUIRED is on) is enrolled in TOTP,
    including one seeded before its role needed it, so each can sign in straight away.
    """
    _refuse_in_production()
    credentials = _load_credentials()
    enrolled: dict[str, str | None] = {}
    for username, name, role, team in DEMO_STAFF:
        user = db.session.execute(
            select(StaffUser).where(StaffUser.username == username)
        ).scalar_one_or_none()
        if user is None:
            password = _passphrase()
            user = accounts.create_staff(
                username, password, role, display_name=name, team=team, actor=audit.CLI
            )
            credentials[username] = {"password": password, "role": role}
        if mfa_required(user.role) and not user.mfa_enabled:
            user.totp_secret = mfa.new_secret()
            user.mfa_enabled = True
            audit.record(
                "auth.mfa_enrolled",
                target_type="staff_user",
                target_id=user.id,
                details={"by": "demo seed"},
                actor=audit.CLI,
            )
            credentials.setdefault(username, {"role": role})["totp_secret"] = user.totp_secret
        # The secret it signs in with now (a person may have re-enrolled it by hand since).
        enrolled[username] = user.totp_secret if user.mfa_enabled else None
    db.session.commit()
    _save_credentials(credentials)
    click.echo(
        "Demo staff accounts (passwords are random; kept in instance/demo-credentials.json"
        f" under {database_key()}):"
    )
    for username, _name, role, _team in DEMO_STAFF:
        entry = credentials.get(username, {})
        line = f"  {role:11} {username:12} password: {entry.get('password', '(set before)')}"
        if entry.get("totp_secret") and entry["totp_secret"] == enrolled.get(username):
            line += (
                f"  MFA: on, TOTP secret {entry['totp_secret']} "
                f"(current code: .venv/bin/flask demo code {username})"
            )
        elif enrolled.get(username):
            line += "  MFA: on (enrolled by hand: the code is on your authenticator)"
        else:
            line += "  MFA: off (optional; enrol under Account)"
        click.echo(line)


@demo_cli.command("code")
@click.argument("username")
def code(username):
    """Print the current TOTP code of a demo account, for logging in without a phone."""
    _refuse_in_production()
    entry = _load_credentials().get(username)
    if not entry or not entry.get("totp_secret"):
        raise click.ClickException(f"{username} has no demo TOTP secret")
    click.echo(pyotp.TOTP(entry["totp_secret"]).now())
