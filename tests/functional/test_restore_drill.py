"""``flask ops restore-drill``: a dump of the database restored into a scratch database, its
audit trail verified there, a sample of captured values decrypted with the configured keys, a
report (plain or JSON) that holds nothing personal, and the scratch database dropped.

The drill needs pg_dump and pg_restore (postgresql-client) and a PostgreSQL server: those tests
run in the PostgreSQL pass; on SQLite the command says it is for PostgreSQL installations.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess

import pytest
from sqlalchemy import create_engine, func, select, text

from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.operations import pg_client
from portal.personal_data import key_store, service
from tests.functional.captured_data_support import CLERK, ENTERED, load, new_request, store
from tests.support.audit_rows import append_audit_rows
from tests.support.database import ON_POSTGRES, needs_postgres

postgres_only = needs_postgres("the restore drill dumps and restores with pg_dump/pg_restore")


@pytest.fixture
def drill(app):
    """Run ``flask ops restore-drill ARGS`` on ``app``: (exit code, output)."""

    def run(*args, on=None):
        result = (on or app).test_cli_runner().invoke(args=["ops", "restore-drill", *args])
        return result.exit_code, result.output

    return run


@pytest.fixture
def installation(app, make_staff):
    """Three data requests with their values stored, and an anchored audit trail; returns
    (values stored, newest audit seq)."""
    agent = make_staff("agent")
    field_sets = ("address", "iban", "contact")
    for field_set in field_sets:
        store(app, new_request(app, agent, field_set), field_set)
    with app.app_context():
        append_audit_rows(5)
    anchored = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert anchored.exit_code == 0, anchored.output
    with app.app_context():
        newest = db.session.execute(select(func.max(AuditEvent.seq))).scalar_one()
    return sum(len(ENTERED[name]) for name in field_sets), newest


def scratch_server(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


def exists(app, name: str) -> bool:
    return pg_client.database_exists(scratch_server(app), name)


def assert_nothing_personal(output: str) -> None:
    for values in ENTERED.values():
        for value in values.values():
            assert value not in output


def last_audit_row(app) -> AuditEvent:
    with app.app_context():
        row = db.session.execute(
            select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
        ).scalar_one()
        db.session.expunge(row)
        return row


@postgres_only
def test_a_drill_restores_verifies_decrypts_reports_and_drops_its_scratch_database(
    app, drill, installation
):
    values, newest_seq = installation

    code, output = drill("--json")

    assert code == 0, output
    report = json.loads(output)
    assert report["ok"] is True and report["problems"] == []
    assert report["source"] == "pg_dump" and report["dump_bytes"] > 0
    assert report["tables"]["capture_requests"] == 3
    assert report["tables"]["captured_values"] == values
    assert report["tables"]["audit_events"] == newest_seq
    assert report["tables"]["audit_anchors"] >= 1
    assert report["audit"]["ok"] is True
    assert report["audit"]["verified_up_to_seq"] == newest_seq
    assert report["audit"]["anchor_seq"] == newest_seq
    assert report["sample"] == {
        "requests": 3,
        "values": values,
        "decrypted": values,
        "unreadable": {},
        "erased_since": 0,
    }
    assert report["schema_revision"]
    assert set(report["seconds"]) >= {"dump", "restore", "audit", "sample", "total"}
    assert report["scratch_database"].startswith("postern_drill_")
    assert not exists(app, report["scratch_database"])
    assert_nothing_personal(output)
    recorded = last_audit_row(app)
    assert (recorded.action, recorded.actor_label, recorded.outcome) == (
        "ops.restore_drill",
        "cli",
        "success",
    )
    assert recorded.details["audit_verified_up_to_seq"] == newest_seq
    assert recorded.details["sample_decrypted"] == values


@postgres_only
def test_the_plain_report_says_what_was_checked_and_keep_leaves_the_copy(app, drill, installation):
    values, newest_seq = installation

    code, output = drill("--keep", "--sample", "2")
    kept = re.search(r"scratch database (postern_drill_\w+) KEPT", output)
    try:
        assert code == 0, output
        lines = output.splitlines()
        assert lines[0].startswith("dump: pg_dump ")
        assert any(line.startswith("restore: pg_restore ") for line in lines)
        assert any(line.split() == ["capture_requests", "3"] for line in lines)
        assert f"audit: verified up to seq {newest_seq} (newest anchor: seq {newest_seq})" in lines
        sample = next(line for line in lines if line.startswith("sample: "))
        decrypted, of = sample.split("decrypted ")[1].split(" values")[0].split(" of ")
        assert decrypted == of and int(of) > 0  # two of the three requests' values
        assert lines[-1].startswith("restore drill PASSED in ")
        assert_nothing_personal(output)
        assert kept is not None and exists(app, kept[1])
        engine = create_engine(pg_client.with_database(scratch_server(app), kept[1]))
        with engine.connect() as connection:
            restored = connection.execute(text("SELECT count(*) FROM captured_values")).scalar()
        engine.dispose()
        assert restored == values
    finally:
        if kept is not None:
            pg_client.drop_scratch_database(scratch_server(app), kept[1])


@postgres_only
def test_a_dump_with_an_edited_audit_row_fails_the_drill(app, drill, installation, tmp_path):
    with app.app_context():
        # As a database administrator could: the trigger lets the superuser through with
        # maintenance on, and the row's hash is left as it was.
        db.session.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        db.session.execute(text("UPDATE audit_events SET action = 'staff.enabled' WHERE seq = 3"))
        db.session.commit()
    dump = tmp_path / "edited.dump"
    dump_to(app, dump)

    code, output = drill("--from-dump", str(dump), "--json")

    assert code == 1
    report = json.loads(output)
    assert report["ok"] is False and report["failed_step"] == "audit"
    assert report["source"] == "dump file"
    assert report["audit"]["verified_up_to_seq"] is None
    assert report["problems"][0] == (
        "audit chain BROKEN at row seq=3: content does not match its hash "
        "(the row was edited, or inserted by hand)"
    )
    assert not exists(app, report["scratch_database"])
    assert dump.exists()  # the operator's own file is never deleted
    recorded = last_audit_row(app)
    assert (recorded.action, recorded.outcome) == ("ops.restore_drill", "failure")
    assert recorded.details["failed_step"] == "audit"


def dump_to(app, path) -> None:
    """pg_dump -Fc of the test database into ``path``, as a nightly backup would be made."""
    source = pg_client.target(scratch_server(app))
    made = subprocess.run(
        ["pg_dump", "--format=custom", f"--file={path}", source.url],
        capture_output=True,
        text=True,
        env=source.env,
    )
    assert made.returncode == 0, made.stderr


@postgres_only
def test_an_older_dump_passes_with_values_erased_since_reported_as_erased(
    app, drill, make_staff, tmp_path
):
    agent = make_staff("agent")
    kept, erased = new_request(app, agent, "iban"), new_request(app, agent, "address")
    store(app, kept, "iban")
    store(app, erased, "address")
    older = tmp_path / "last-night.dump"
    dump_to(app, older)
    with app.app_context():
        service.erase(load(erased), "Customer asked us to erase their address", CLERK)
        db.session.commit()

    code, output = drill("--from-dump", str(older), "--json")

    assert code == 0, output
    sample = json.loads(output)["sample"]
    assert sample["values"] == len(ENTERED["iban"]) + len(ENTERED["address"])
    assert sample["decrypted"] == len(ENTERED["iban"])
    assert sample["erased_since"] == len(ENTERED["address"])
    assert sample["unreadable"] == {"erased_since": len(ENTERED["address"])}

    code, output = drill("--from-dump", str(older))
    assert code == 0, output
    assert (
        f"; {len(ENTERED['address'])} erased since the copy was taken (their data key was "
        "destroyed, as the erasure journal records)" in output
    )


@postgres_only
def test_a_fresh_dump_whose_data_keys_the_key_store_lost_fails_the_drill(app, drill, make_staff):
    agent = make_staff("agent")
    request_id = new_request(app, agent, "iban")
    store(app, request_id, "iban")
    with app.app_context():
        assert key_store.destroy_data_keys([request_id]) == 1  # lost, not erased

    code, output = drill("--json")

    assert code == 1
    report = json.loads(output)
    assert report["failed_step"] == "sample"
    assert report["sample"]["unreadable"] == {"key_lost": len(ENTERED["iban"])}


@postgres_only
def test_values_the_configured_keys_cannot_read_fail_the_drill(app_factory, make_staff, drill):
    old_key, new_key = (f"{name}:{base64.b64encode(os.urandom(32)).decode()}" for name in "AB")
    under_old = app_factory(DATA_ENCRYPTION_KEYS=old_key)
    agent = make_staff("agent")
    store(under_old, new_request(under_old, agent, "iban"), "iban")
    only_new = app_factory(DATA_ENCRYPTION_KEYS=new_key)

    code, output = drill("--json", on=only_new)

    assert code == 1
    report = json.loads(output)
    assert report["failed_step"] == "sample"
    assert report["sample"]["decrypted"] == 0
    assert report["sample"]["unreadable"] == {"key_not_configured": 2}
    assert report["problems"] == [
        "2 of 2 sampled values could not be decrypted with the configured keys and key store "
        "(key_not_configured: 2)"
    ]
    assert not exists(only_new, report["scratch_database"])


@postgres_only
def test_a_pg_dump_older_than_the_server_is_refused_before_anything_is_made(app, drill, tmp_path):
    old_client = tmp_path / "bin"
    old_client.mkdir()
    fake = old_client / "pg_dump"
    fake.write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n')
    fake.chmod(0o755)
    os.symlink(shutil.which("pg_restore"), old_client / "pg_restore")

    code, output = drill("--pg-bin", str(old_client), "--json")

    assert code == 1
    report = json.loads(output)
    assert report["failed_step"] == "tools"
    assert report["scratch_database"] is None
    server = pg_client.server_version(scratch_server(app))
    assert report["problems"] == [
        f"pg_dump 9.6 cannot dump this PostgreSQL {server} server (pg_dump must be of the "
        f"server's major version or newer): install postgresql-client-{server.major} and name "
        f"its directory with --pg-bin (Debian: /usr/lib/postgresql/{server.major}/bin), or give "
        "a dump made by a matching pg_dump with --from-dump"
    ]


@postgres_only
def test_a_file_pg_restore_cannot_read_is_refused(drill, tmp_path):
    not_a_dump = tmp_path / "backup.sql"
    not_a_dump.write_text("-- a plain SQL script, not pg_dump's custom format\n")

    code, output = drill("--from-dump", str(not_a_dump))

    assert code == 1
    assert "PROBLEM: pg_restore " in output and "cannot read backup.sql" in output
    assert "pg_dump's custom format (pg_dump -Fc)" in output
    assert output.splitlines()[-1].startswith("restore drill FAILED at dump")


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite pass checks the refusal on SQLite")
def test_on_sqlite_the_drill_says_it_is_for_postgresql(app, drill):
    code, output = drill()

    assert code == 1
    assert "the restore drill is for PostgreSQL installations" in output
    assert output.splitlines()[-1].startswith("restore drill FAILED at tools")


@pytest.mark.parametrize(
    ("said", "major", "shown"),
    [
        ("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)", 15, "15.20"),
        ("pg_restore (PostgreSQL) 17.2", 17, "17.2"),
        ("pg_dump (PostgreSQL) 9.6.24", 9, "9.6"),
        ("pg_dump (PostgreSQL) 18beta1", 18, "18"),
    ],
)
def test_client_versions_are_read_from_what_the_programs_say(said, major, shown):
    version = pg_client.parse_version(said)
    assert (version.major, str(version)) == (major, shown)


def test_pg_dump_may_be_newer_than_the_server_but_not_older():
    v15, v16 = pg_client.Version(15, "15.20"), pg_client.Version(16, "16.4")
    pg_client.check_can_dump(v16, v15)
    pg_client.check_can_dump(v15, v15)
    with pytest.raises(pg_client.PostgresToolError, match="postgresql-client-16"):
        pg_client.check_can_dump(v15, v16)


def test_passwords_stay_off_the_command_line():
    target = pg_client.target("postgresql+psycopg://drill:s3cr3t-pw@db.internal:6432/postern")
    assert target.url == "postgresql://drill@db.internal:6432/postern"
    assert target.env["PGPASSWORD"] == "s3cr3t-pw"


def test_a_password_on_the_command_line_is_refused_before_anything_runs(app, drill, monkeypatch):
    code, output = drill("--scratch-server", "postgresql://drill:s3cret@db.internal/postgres")
    assert code == 2
    assert "POSTERN_DRILL_SCRATCH_SERVER_URL" in output and "s3cret" not in output
    # The same URL from the environment is not on the command line: the drill goes on (and on
    # SQLite says it is for PostgreSQL; on PostgreSQL it fails to reach db.internal).
    monkeypatch.setenv(
        "POSTERN_DRILL_SCRATCH_SERVER_URL", "postgresql://drill:s3cret@db.internal/x"
    )
    code, output = drill()
    assert code == 1 and "--scratch-server holds a password" not in output
