"""Operator commands: staff accounts and the audit chain (through app.test_cli_runner())."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from portal.audit.chain import compute_hash
from portal.audit.service import chain_key
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.staff import StaffUser, Team
from tests.support.auth import audit_rows, session_rows, staff_row
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import login, post_form


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        return runner.invoke(args=list(args), input=input)

    return run


def _user(app, username: str) -> StaffUser | None:
    with app.app_context():
        user = db.session.execute(
            select(StaffUser).where(StaffUser.username == username)
        ).scalar_one_or_none()
        if user is not None:
            db.session.expunge(user)
        return user


# --- users create ------------------------------------------------------------------------------


def test_create_makes_an_account_that_can_sign_in(app, cli):
    result = cli(
        "users", "create", "Agent.Zoe", "--role", "agent", "--team", "North",
        "--name", "Zoe Agent", "--password", DEFAULT_PASSWORD,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "created agent.zoe as agent"
    user = _user(app, "agent.zoe")
    assert user.role == "agent" and user.display_name == "Zoe Agent" and user.is_active
    assert user.password_hash.startswith("$argon2id$")
    with app.app_context():
        assert db.session.get(Team, user.team_id).name == "North"
    (row,) = audit_rows(app, "staff.created")
    assert row.details == {"role": "agent", "team": "North"} and row.actor_label == "cli"
    assert DEFAULT_PASSWORD not in str(row.details)

    client = app.test_client()
    login(client, user)
    assert client.get("/agent/").status_code == 200


def test_create_asks_for_the_password_twice_when_not_given(app, cli):
    typed = f"{DEFAULT_PASSWORD}\n{DEFAULT_PASSWORD}\n"
    result = cli("users", "create", "prompted", "--role", "auditor", input=typed)
    assert result.exit_code == 0, result.output
    assert DEFAULT_PASSWORD not in result.output
    assert _user(app, "prompted").role == "auditor"


def test_create_says_when_mfa_enrolment_will_be_required(cli):
    result = cli(
        "users", "create", "office", "--role", "backoffice", "--password", DEFAULT_PASSWORD
    )
    assert result.exit_code == 0
    assert "must enrol MFA at first login" in result.output


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Use at least 12 characters."),
        ("q1w2e3r4t5y6", "common or breached"),
        ("i am agent.kim ok", "must not contain your username"),
    ],
)
def test_create_enforces_the_password_policy(app, cli, password, message):
    result = cli("users", "create", "agent.kim", "--role", "agent", "--password", password)
    assert result.exit_code == 1
    assert message in result.output
    assert _user(app, "agent.kim") is None
    assert not audit_rows(app, "staff.created")


@pytest.mark.parametrize("role", ["root", "Admin", "", "superuser"])
def test_create_refuses_an_unknown_role(app, cli, role):
    result = cli("users", "create", "someone", "--role", role, "--password", DEFAULT_PASSWORD)
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert _user(app, "someone") is None


def test_create_refuses_a_taken_username_whatever_its_case(app, cli):
    assert (
        cli("users", "create", "dup", "--role", "agent", "--password", DEFAULT_PASSWORD).exit_code
        == 0
    )
    result = cli("users", "create", "DUP", "--role", "admin", "--password", DEFAULT_PASSWORD)
    assert result.exit_code == 1 and "is taken" in result.output
    assert _user(app, "dup").role == "agent"


# --- disable, enable, set-role, list -----------------------------------------------------------


def test_disable_ends_sessions_and_blocks_sign_in_and_enable_restores_it(app, cli, make_staff):
    user = make_staff("agent")
    client = app.test_client()
    login(client, user)

    result = cli("users", "disable", user.username)
    assert result.exit_code == 0
    assert result.output.strip() == f"disabled {user.username}; 1 session(s) ended"
    assert not staff_row(app, user.id).is_active
    assert session_rows(app, user.id)[-1].end_reason == "account_disabled"
    assert client.get("/agent/").status_code == 302
    (row,) = audit_rows(app, "staff.disabled")
    assert row.details == {"sessions_ended": 1} and row.target_id == str(user.id)

    fresh = app.test_client()
    refused = post_form(fresh, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 401

    result = cli("users", "enable", user.username)
    assert result.exit_code == 0 and result.output.strip() == f"enabled {user.username}"
    assert audit_rows(app, "staff.enabled")
    login(fresh, user)
    assert fresh.get("/agent/").status_code == 200


def test_set_role_is_audited_and_ends_sessions_so_new_rights_apply_at_once(app, cli, make_staff):
    user = make_staff("agent", mfa=True)  # auditors need a second factor (see test_auth_mfa)
    client = app.test_client()
    login(client, user)
    result = cli("users", "set-role", user.username, "auditor")
    assert result.exit_code == 0
    assert result.output.strip() == f"{user.username}: agent -> auditor"
    assert staff_row(app, user.id).role == "auditor"
    assert client.get("/agent/").status_code == 302
    (row,) = audit_rows(app, "staff.role_changed")
    assert row.details == {"from": "agent", "to": "auditor", "sessions_ended": 1}

    login(client, user, totp_offset=1)  # the first sign-in spent this step's code
    assert client.get("/agent/").status_code == 403
    assert client.get("/backoffice/").status_code == 200


def test_set_role_refuses_an_unknown_role(app, cli, make_staff):
    user = make_staff("agent")
    result = cli("users", "set-role", user.username, "god")
    assert result.exit_code == 2
    assert staff_row(app, user.id).role == "agent"
    assert not audit_rows(app, "staff.role_changed")


@pytest.mark.parametrize("command", ["disable", "enable", "reset-mfa"])
def test_commands_on_an_unknown_account_fail_clearly(cli, command):
    result = cli("users", command, "ghost")
    assert result.exit_code == 1
    assert "no staff account named 'ghost'" in result.output


def test_list_shows_accounts_and_no_secrets(app, cli, make_staff):
    agent = make_staff("agent", team="South")
    office = make_staff("backoffice", mfa=True)
    cli("users", "disable", agent.username)
    result = cli("users", "list")
    assert result.exit_code == 0
    lines = {line.split()[0]: line.split() for line in result.output.strip().splitlines()}
    assert lines[agent.username] == [agent.username, "agent", "South", "disabled", "mfa=off"]
    assert lines[office.username] == [office.username, "backoffice", "-", "active", "mfa=on"]
    assert "$argon2" not in result.output and office.totp_secret not in result.output


# --- audit verify ------------------------------------------------------------------------------


def _some_history(cli) -> None:
    for n in range(5):
        result = cli(
            "users", "create", f"user{n}", "--role", "agent", "--password", DEFAULT_PASSWORD
        )
        assert result.exit_code == 0


def _as_maintenance(app, statement: str, **params) -> None:
    """Run a write on audit_events the way only maintenance may (PostgreSQL refuses otherwise)."""
    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        connection.execute(text(statement), params)


def test_verify_passes_on_an_intact_chain(app, cli):
    _some_history(cli)
    result = cli("audit", "verify")
    assert result.exit_code == 0
    intact, anchored = result.output.strip().splitlines()
    assert intact == "audit chain intact: 5 rows verified"
    assert re.fullmatch(
        r"anchored at seq 5 \([0-9a-f]{16}\.\.\.\) at [-\d]{10} [:\d]{8} UTC", anchored
    )


def test_verify_passes_on_an_empty_chain(cli):
    result = cli("audit", "verify")
    assert result.exit_code == 0 and "0 rows verified" in result.output
    assert "nothing to anchor: the audit trail is empty" in result.output


def test_verify_names_an_edited_row(app, cli):
    _some_history(cli)
    _as_maintenance(app, "UPDATE audit_events SET actor_label = 'someone.else' WHERE seq = 3")
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "audit chain BROKEN at row seq=3" in result.output
    assert "edited" in result.output


def test_verify_names_a_deleted_row(app, cli):
    _some_history(cli)
    _as_maintenance(app, "DELETE FROM audit_events WHERE seq = 3")
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "audit chain BROKEN at row seq=4" in result.output
    assert "rows 3..3 are missing (deleted)" in result.output


def test_verify_names_a_row_inserted_at_the_end(app, cli):
    _some_history(cli)
    _insert_forged(app, seq=6, prev_seq=5)
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "audit chain BROKEN at row seq=6" in result.output


def test_verify_names_a_row_inserted_in_the_middle(app, cli):
    _some_history(cli)
    # The forger makes room at seq 3 and relinks the row after it, as they would have to.
    for seq in (5, 4, 3):
        _as_maintenance(
            app, "UPDATE audit_events SET seq = :new WHERE seq = :old", new=seq + 1, old=seq
        )
    _as_maintenance(app, "UPDATE audit_events SET prev_hash = :h WHERE seq = 4", h="f" * 64)
    forged_hash = _insert_forged(app, seq=3, prev_seq=2)
    _as_maintenance(app, "UPDATE audit_events SET prev_hash = :h WHERE seq = 4", h=forged_hash)
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "audit chain BROKEN at row seq=3" in result.output
    assert "inserted by hand" in result.output


def _insert_forged(app, *, seq: int, prev_seq: int) -> str:
    """Insert a plausible row whose hash is computed without the chain key; return its hash."""
    with app.app_context():
        previous = db.session.execute(
            select(AuditEvent).where(AuditEvent.seq == prev_seq)
        ).scalar_one()
        forged = AuditEvent(
            seq=seq,
            prev_hash=previous.row_hash,
            occurred_at=previous.occurred_at,
            actor_label="cli",
            action="staff.role_changed",
            outcome="success",
            details={"from": "agent", "to": "admin"},
        )
        forged.row_hash = compute_hash(forged, b"a guessed key, not " + chain_key())
        db.session.add(forged)
        db.session.commit()
        return forged.row_hash


def _postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


@pytest.mark.postgres
def test_postgresql_refuses_to_edit_or_delete_audit_rows_outside_maintenance(app, cli):
    if not _postgres(app):
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    _some_history(cli)
    for statement in (
        "UPDATE audit_events SET actor_label = 'x' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 2",
    ):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            app.app_context(),
            db.engine.begin() as connection,
        ):
            connection.execute(text(statement))
    # Maintenance mode lasts for its own transaction only.
    _as_maintenance(app, "UPDATE audit_events SET actor_label = actor_label WHERE seq = 1")
    with (
        pytest.raises(DBAPIError, match="append-only"),
        app.app_context(),
        db.engine.begin() as connection,
    ):
        connection.execute(text("DELETE FROM audit_events WHERE seq = 1"))
    assert cli("audit", "verify").exit_code == 0
