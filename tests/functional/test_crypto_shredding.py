"""Crypto-shredding: erasing a request destroys its data key in the key store, so its values
cannot be decrypted from any copy of the main database made before the erasure, while every
other request's values still decrypt.

The must-show test (PostgreSQL): capture values for two requests, ``pg_dump`` the main
database, erase one request, restore the dump into a fresh database and point an app at it
with the live key store: the erased request's values are still in the restored rows, and
fail with DataKeyMissing; the other request's decrypt.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select, update

from portal.data_subject.service import erase_request
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, ErasureJournalEntry
from portal.models.data_keys import DataKey
from portal.models.types import utcnow
from portal.personal_data import key_store, service, shredding
from portal.personal_data.values import (
    KEY_MISSING,
    DataKeyMissing,
    decrypt_request_values,
)
from portal.retention import purge
from tests.functional.captured_data_support import CLERK, load, new_request, store
from tests.support.artifacts import pg_dump
from tests.support.database import needs_postgres
from tests.support.staff import create_staff_account


@pytest.fixture
def staff(make_staff):
    return make_staff("agent")


def close(app, request_id: int) -> None:
    """The call is over: the request succeeded (erasure refuses an open request)."""
    with app.app_context():
        db.session.execute(
            update(CaptureRequest)
            .where(CaptureRequest.id == request_id)
            .values(status="succeeded", finished_at=utcnow())
        )
        db.session.commit()


def value_rows(request_id: int) -> list[dict]:
    """The request's stored value rows, as a backup would hold them."""
    rows = db.session.execute(
        select(CapturedValue.__table__).where(CapturedValue.capture_request_id == request_id)
    ).mappings()
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def test_erasure_destroys_the_data_key_and_an_older_copy_no_longer_decrypts(app, staff):
    erased, kept = new_request(app, staff, "address"), new_request(app, staff, "email")
    store(app, erased, "address")
    store(app, kept, "email")
    close(app, erased)
    with app.app_context():
        kept_values = decrypt_request_values(kept)
        assert decrypt_request_values(erased)["town"] == "Wexcombe Parva"
        backup = value_rows(erased)  # what yesterday's database backup holds
        erase_request(load(erased), "Subject asked to be forgotten", CLERK)
        assert key_store.wrapped_keys([erased]), "nothing is destroyed before the commit"
        db.session.commit()

        assert key_store.wrapped_keys([erased, kept]).keys() == {kept}
        journal = db.session.execute(select(ErasureJournalEntry)).scalar_one()
        assert (journal.capture_request_id, journal.cause) == (erased, "data_subject")
        assert decrypt_request_values(erased) == {}  # the rows are gone too

        # Yesterday's rows put back, as a restore of the main database would: still no data.
        db.session.execute(insert(CapturedValue), backup)
        db.session.commit()
        with pytest.raises(DataKeyMissing) as missing:
            decrypt_request_values(erased)
        assert set(missing.value.problems) == set(backup_fields(backup))
        assert set(missing.value.problems.values()) == {KEY_MISSING}
        assert "Wexcombe" not in str(missing.value)
        assert decrypt_request_values(kept) == kept_values

        # Staff revealing the restored rows are told why, and the attempt is audited.
        with pytest.raises(service.ValueUnreadable, match="no longer in the key store"):
            service.reveal(load(erased), "Test: restored", CLERK, reauthenticated_at=utcnow())
        db.session.commit()


def backup_fields(rows: list[dict]) -> list[str]:
    return [row["field_name"] for row in rows]


def test_an_erasure_that_rolls_back_destroys_nothing(app, staff):
    request_id = new_request(app, staff, "email")
    store(app, request_id, "email")
    with app.app_context():
        service.erase(load(request_id), "subject erasure request", CLERK)
        db.session.rollback()
        assert key_store.wrapped_keys([request_id])
        db.session.commit()  # a later, unrelated commit destroys nothing either
        assert key_store.wrapped_keys([request_id])
        assert decrypt_request_values(request_id) == {"email": "Zephyrine.Q@wexcombe-parva.co.uk"}
        assert db.session.scalar(select(func.count()).select_from(ErasureJournalEntry)) == 0


def test_the_retention_purge_destroys_data_keys(app, staff):
    due, recent = new_request(app, staff, "email"), new_request(app, staff, "email")
    for request_id in (due, recent):
        store(app, request_id, "email")
    with app.app_context():
        db.session.execute(
            update(CaptureRequest)
            .where(CaptureRequest.id == due)
            .values(status="succeeded", finished_at=utcnow() - timedelta(days=60))
        )
        db.session.commit()
        counts = purge.purge_personal_data(utcnow(), batch_size=10, dry_run=False)
        assert counts == {"requests": 1, "values": 1}
        assert key_store.wrapped_keys([due, recent]).keys() == {recent}
        causes = db.session.execute(
            select(ErasureJournalEntry.capture_request_id, ErasureJournalEntry.cause)
        ).all()
        assert causes == [(due, "retention")]


def test_reapplying_erasures_after_a_key_store_restore(app, staff):
    erased, kept = new_request(app, staff, "email"), new_request(app, staff, "email")
    for request_id in (erased, kept):
        store(app, request_id, "email")
    with app.app_context():
        with key_store.engine().connect() as connection:
            key_store_backup = [
                dict(row) for row in connection.execute(select(DataKey.__table__)).mappings()
            ]
        assert len(key_store_backup) == 2
        service.erase(load(erased), "subject erasure request", CLERK)
        db.session.commit()
        assert key_store.wrapped_keys([erased]) == {}
        # The key store is restored from its backup, taken before the erasure.
        with key_store.engine().begin() as connection:
            connection.execute(DataKey.__table__.delete())
            connection.execute(insert(DataKey.__table__), key_store_backup)
        assert key_store.wrapped_keys([erased])

    result = app.test_cli_runner().invoke(args=["keys", "reapply-erasures"])
    assert result.exit_code == 0, result.output
    assert "1 erased request(s); data keys still in the key store and destroyed now: 1" in (
        result.output
    )
    with app.app_context():
        assert key_store.wrapped_keys([erased, kept]).keys() == {kept}
        reapplied = db.session.execute(
            select(AuditEvent.details).where(AuditEvent.action == "keys.erasures_reapplied")
        ).scalar_one()
        assert reapplied == {"journaled": 1, "destroyed": 1}
    again = app.test_cli_runner().invoke(args=["keys", "reapply-erasures"])
    assert "destroyed now: 0" in again.output


def test_a_key_store_down_at_erasure_is_caught_up_by_reapply(app, staff, monkeypatch, tmp_path):
    request_id = new_request(app, staff, "email")
    store(app, request_id, "email")
    live_engine = key_store.engine
    unreachable = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'keys.sqlite3'}")
    with app.app_context():
        monkeypatch.setattr(key_store, "engine", lambda: unreachable)
        service.erase(load(request_id), "subject erasure request", CLERK)
        db.session.commit()  # the erasure stands; destroying the key failed and was logged
        monkeypatch.setattr(key_store, "engine", live_engine)
        assert key_store.wrapped_keys([request_id])
        assert shredding.is_journaled(request_id)
        assert shredding.reapply_erasures().destroyed == 1
        assert key_store.wrapped_keys([request_id]) == {}
    unreachable.dispose()


# --- the must-show test: a dump restored after an erasure ----------------------------------


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def private_databases(*roles: str):
    """Fresh PostgreSQL databases on the test server, one per role, dropped afterwards."""
    server = _plain(os.environ["TEST_DATABASE_URL"])
    base = server.rsplit("/", 1)[0]
    names = {role: f"postern_shred_{secrets.token_hex(4)}_{role}" for role in roles}
    with psycopg.connect(server, autocommit=True) as connection:
        for name in names.values():
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {role: f"{base}/{name}" for role, name in names.items()}
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            for name in names.values():
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _app_on(main_url: str, keys_url: str):
    from portal import create_app

    return create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://" + main_url.split("://", 1)[1],
            "KEY_STORE_URL": keys_url,
        },
    )


def _dispose(*apps) -> None:
    for app in apps:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


@needs_postgres("restores a pg_dump of the main database into a database of its own")
def test_a_dump_restored_after_an_erasure_cannot_decrypt_the_erased_values(tmp_path):
    with private_databases("main", "keys", "restored") as url:
        live = _app_on(url["main"], url["keys"])
        with live.app_context():
            upgrade(revision="heads")
        staff = create_staff_account(live, "agent", "agent1")
        erased, kept = new_request(live, staff, "address"), new_request(live, staff, "contact")
        store(live, erased, "address")
        store(live, kept, "contact")
        close(live, erased)
        with live.app_context():
            before = {i: decrypt_request_values(i) for i in (erased, kept)}
        assert before[erased]["town"] == "Wexcombe Parva"

        # 1. The nightly backup of the main database. The keys are not in it.
        dump = pg_dump(url["main"])
        assert "data_keys" not in dump and "CREATE TABLE public.captured_values" in dump
        (tmp_path / "main.sql").write_text(dump, encoding="utf-8")

        # 2. The next day the customer's data is erased.
        with live.app_context():
            erase_request(load(erased), "Data subject erasure request", CLERK)
            db.session.commit()
            assert key_store.wrapped_keys([erased]) == {}

        # 3. The backup is restored into a database of its own, beside the live key store.
        subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url["restored"],
                "-f",
                str(tmp_path / "main.sql"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        restored = _app_on(url["restored"], url["keys"])
        try:
            with restored.app_context():
                stored = db.session.scalar(
                    select(func.count())
                    .select_from(CapturedValue)
                    .where(CapturedValue.capture_request_id == erased)
                )
                assert stored == 5  # the erased values ARE in the restored database ...
                with pytest.raises(DataKeyMissing) as missing:  # ... and cannot be decrypted
                    decrypt_request_values(erased)
                assert set(missing.value.problems.values()) == {KEY_MISSING}
                assert sorted(missing.value.problems) == sorted(before[erased])
                assert decrypt_request_values(kept) == before[kept]  # the rest is intact
        finally:
            _dispose(live, restored)
