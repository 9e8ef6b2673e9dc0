"""Data keys and rotation with ``flask keys``: each request's values are under its own data key,
kept wrapped by keyring key A in the key store; rotating to a newer key B re-wraps the data keys
without touching a single value row, while the app keeps running; afterwards A can go. Values
stored before the envelope (directly under a keyring key) still read, and are converted in
batches. Tampered or misplaced ciphertext never decrypts: a reveal says so, and is audited."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import insert, select, update

from config.keyring import parse_keyring
from portal.audit import CLI
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.captured_data import FORMAT_ENVELOPE, FORMAT_KEYRING, CapturedValue
from portal.models.data_keys import DataKey
from portal.models.types import utcnow
from portal.personal_data import key_store, rotation, service
from portal.personal_data.crypto import seal
from portal.personal_data.keyring import current_keyring
from tests.functional.captured_data_support import CLERK, ENTERED, load, new_request, store


def key_line(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def keys():
    return {"A": key_line("key-a"), "B": key_line("key-b")}


@pytest.fixture
def staff(make_staff):
    return make_staff("agent")


def wrapping_key_ids(app) -> list[str]:
    with app.app_context():
        return sorted(key_store.counts_by_wrapping_key())


def value_rows(app) -> list[tuple]:
    """Every value row as stored: what rotation must leave exactly as it was."""
    with app.app_context():
        columns = CapturedValue.__table__.c
        return db.session.execute(
            select(
                columns.id, columns.format, columns.key_id, columns.nonce, columns.ciphertext
            ).order_by(columns.id)
        ).all()


def read_all(app, request_ids: dict[str, int]) -> dict[str, dict[str, str]]:
    with app.app_context():
        values = {
            name: service.reveal(
                load(request_id), "Test: after rotation", CLERK, reauthenticated_at=utcnow()
            )
            for name, request_id in request_ids.items()
        }
        db.session.commit()
        return values


def store_in_keyring_format(app, request_id: int, values: dict[str, str]) -> None:
    """Values as Postern stored them before envelope encryption: directly under the keyring's
    newest key, format 1, with no data key in the key store."""
    with app.app_context():
        keyring = current_keyring()
        for name, value in values.items():
            sealed = seal(keyring, request_id, name, value)
            db.session.execute(
                insert(CapturedValue).values(
                    capture_request_id=request_id,
                    field_name=name,
                    format=FORMAT_KEYRING,
                    key_id=sealed.key_id,
                    nonce=sealed.nonce,
                    ciphertext=sealed.ciphertext,
                )
            )
        db.session.commit()


def test_new_values_are_under_their_own_data_key_wrapped_by_the_newest_key(app, staff):
    first, second = new_request(app, staff, "address"), new_request(app, staff, "email")
    store(app, first, "address")
    store(app, second, "email")
    with app.app_context():
        rows = db.session.execute(select(CapturedValue)).scalars().all()
        assert {(row.format, row.key_id) for row in rows} == {(FORMAT_ENVELOPE, None)}
        # Two requests, two different data keys (the wrapped forms differ; so do the keys).
        data_keys = key_store.ensure_data_keys(current_keyring(), [first, second])
        assert len(set(data_keys.values())) == 2 and all(len(k) == 32 for k in data_keys.values())
        stored = db.session.execute(select(CapturedValue.ciphertext)).scalars().all()
        assert not any(key in blob for key in data_keys.values() for blob in stored)
    assert read_all(app, {"address": first})["address"]["town"] == "Wexcombe Parva"


def test_rotation_rewraps_data_keys_without_touching_a_value(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    request_ids = {name: new_request(app, staff, name) for name in ENTERED}
    for name, request_id in request_ids.items():
        store(only_a, request_id, name)
    before = read_all(only_a, request_ids)
    rows_before = value_rows(only_a)
    assert wrapping_key_ids(only_a) == ["key-a"]
    total = len(request_ids)

    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    runner = b_then_a.test_cli_runner()
    status = runner.invoke(args=["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "newest key (wraps new data keys): key-b" in status.output
    assert f"{total} data key(s) under older keys" in status.output

    result = runner.invoke(args=["keys", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert f"re-wrapped under key-b: {total} data key(s)" in result.output
    assert "converted to the envelope format: 0 value(s)" in result.output
    assert wrapping_key_ids(b_then_a) == ["key-b"]
    assert value_rows(b_then_a) == rows_before  # not one value row read back and rewritten
    assert read_all(b_then_a, request_ids) == before

    again = runner.invoke(args=["keys", "rotate"])
    assert again.exit_code == 0 and "re-wrapped under key-b: 0 data key(s)" in again.output
    assert "every data key is under the newest key" in runner.invoke(args=["keys", "status"]).output

    only_b = app_factory(DATA_ENCRYPTION_KEYS=keys["B"])
    assert read_all(only_b, request_ids) == before
    with only_b.app_context():
        rotated = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "keys.rotated").order_by(AuditEvent.seq)
        ).scalars()
        details = [(e.details["keys_rewrapped"], e.details["newest_key_id"]) for e in rotated]
        assert details == [(total, "key-b"), (0, "key-b")]
        started = db.session.execute(
            select(AuditEvent.details).where(AuditEvent.action == "keys.rotation_started")
        ).scalars()
        assert [d["keys_pending"] for d in started] == [total, 0]


def test_keys_changed_during_rotation_are_left_alone(app, app_factory, staff, keys, monkeypatch):
    """The conditional UPDATE (request id and old wrapping key id) loses gracefully to a
    concurrent rotation or erasure instead of overwriting it: here each happens between the
    rotation's read of a key and its write."""
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    rotated_meanwhile, erased_meanwhile = (new_request(app, staff, "email") for _ in range(2))
    store(only_a, rotated_meanwhile, "email")
    store(only_a, erased_meanwhile, "email")
    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    real_rewrap = key_store.rewrap_data_key

    def racing_rewrap(keyring, request_id, wrapped):
        fresh = real_rewrap(keyring, request_id, wrapped)
        if request_id == erased_meanwhile:
            service.erase(load(erased_meanwhile), "subject erasure request", CLERK)
            db.session.commit()  # the data key goes as this commits
        else:  # another rotation gets there first
            other = real_rewrap(keyring, request_id, wrapped)
            with key_store.engine().begin() as connection:
                connection.execute(
                    update(DataKey.__table__)
                    .where(DataKey.capture_request_id == request_id)
                    .values(
                        wrapping_key_id=other.key_id, nonce=other.nonce, wrapped_key=other.wrapped
                    )
                )
        return fresh

    monkeypatch.setattr(key_store, "rewrap_data_key", racing_rewrap)
    with b_then_a.app_context():
        result = key_store.rewrap_all(current_keyring(), 1)
        assert (result.examined, result.rewrapped, result.skipped) == (2, 0, 2)
        assert key_store.wrapped_keys([rotated_meanwhile, erased_meanwhile]).keys() == {
            rotated_meanwhile
        }
        value = service.reveal(
            load(rotated_meanwhile), "Test: still readable", CLERK, reauthenticated_at=utcnow()
        )
        assert value == {"email": "Zephyrine.Q@wexcombe-parva.co.uk"}
        db.session.commit()


def test_older_values_still_read_and_convert_in_batches(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    legacy = {name: new_request(app, staff, name) for name in ("address", "contact")}
    for name, request_id in legacy.items():
        store_in_keyring_format(only_a, request_id, ENTERED[name])
    fresh = new_request(app, staff, "date_of_birth")
    store(only_a, fresh, "date_of_birth")
    before = read_all(only_a, {**legacy, "date_of_birth": fresh})
    assert before["address"] == ENTERED["address"]
    assert before["contact"]["email"] == ENTERED["contact"]["email"]

    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    runner = b_then_a.test_cli_runner()
    status = runner.invoke(args=["keys", "status"]).output
    assert "7 value(s) under older keys" in status  # 5 address + 2 contact fields

    converted = runner.invoke(args=["keys", "convert-values", "--batch-size", "3"])
    assert converted.exit_code == 0, converted.output
    assert "converted to the envelope format: 7 value(s)" in converted.output
    with b_then_a.app_context():
        formats = db.session.execute(select(CapturedValue.format, CapturedValue.key_id)).all()
        assert set(formats) == {(FORMAT_ENVELOPE, None)}
        # Converted under key B, the newest; the fresh request's key stays under A.
        assert key_store.counts_by_wrapping_key() == {"key-b": 2, "key-a": 1}
    assert read_all(b_then_a, {**legacy, "date_of_birth": fresh}) == before
    again = runner.invoke(args=["keys", "convert-values"])
    assert "converted to the envelope format: 0 value(s)" in again.output
    assert "every value is in the envelope format" in runner.invoke(args=["keys", "status"]).output

    rotated = runner.invoke(args=["keys", "rotate"])
    assert "re-wrapped under key-b: 1 data key(s)" in rotated.output
    only_b = app_factory(DATA_ENCRYPTION_KEYS=keys["B"])
    assert read_all(only_b, {**legacy, "date_of_birth": fresh}) == before


def test_conversion_leaves_rows_changed_meanwhile_alone(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    converted_meanwhile, erased_meanwhile = (new_request(app, staff, "email") for _ in range(2))
    for request_id in (converted_meanwhile, erased_meanwhile):
        store_in_keyring_format(only_a, request_id, {"email": "Zephyrine.Q@wexcombe-parva.co.uk"})
    with only_a.app_context():
        columns = CapturedValue.__table__.c
        stale = db.session.execute(
            select(
                columns.id,
                columns.capture_request_id,
                columns.field_name,
                columns.key_id,
                columns.nonce,
                columns.ciphertext,
            )
        ).all()
        assert rotation.convert_values(1, actor=CLI).converted == 2
        service.erase(load(erased_meanwhile), "subject erasure request", CLERK)
        db.session.commit()
        result = rotation.ConversionResult()
        data_keys = key_store.ensure_data_keys(current_keyring(), [converted_meanwhile])
        for row in stale:
            data_key = data_keys.get(row.capture_request_id, os.urandom(32))
            rotation._convert_row(current_keyring(), data_key, row, result)
        db.session.commit()
        assert (result.converted, result.skipped, result.failed_ids) == (0, 2, [])
        value = service.reveal(
            load(converted_meanwhile), "Test: still readable", CLERK, reauthenticated_at=utcnow()
        )
        assert value == {"email": "Zephyrine.Q@wexcombe-parva.co.uk"}


def test_tampered_or_moved_ciphertext_fails_clearly(app, staff):
    victim, other = new_request(app, staff, "address"), new_request(app, staff, "email")
    store(app, victim, "address")
    store(app, other, "email")
    with app.app_context():
        town = db.session.execute(
            select(CapturedValue).where(
                CapturedValue.capture_request_id == victim, CapturedValue.field_name == "town"
            )
        ).scalar_one()
        flipped = bytes([town.ciphertext[0] ^ 0x01]) + town.ciphertext[1:]
        db.session.execute(
            update(CapturedValue).where(CapturedValue.id == town.id).values(ciphertext=flipped)
        )
        db.session.commit()
        with pytest.raises(service.ValueUnreadable) as tampered:
            service.reveal(load(victim), "Test: tampered", CLERK, reauthenticated_at=utcnow())
        db.session.commit()
        assert str(tampered.value) == (
            "Town or city cannot be read: the stored data may have been altered. "
            "The attempt has been recorded."
        )

        # A value copied to another request: another data key, and the AAD names the request.
        line1 = db.session.execute(
            select(CapturedValue).where(
                CapturedValue.capture_request_id == victim,
                CapturedValue.field_name == "address_line1",
            )
        ).scalar_one()
        db.session.execute(
            update(CapturedValue)
            .where(CapturedValue.id == line1.id)
            .values(capture_request_id=other)
        )
        db.session.commit()
        with pytest.raises(service.ValueUnreadable, match="^address_line1 cannot be read"):
            service.reveal(load(other), "Test: moved", CLERK, reauthenticated_at=utcnow())
        db.session.commit()
        failed = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "data.reveal_failed")
        ).scalars()
        assert [(e.outcome, e.target_id, e.details) for e in failed] == [
            (
                "failure",
                load(victim).public_id,
                {"reason": "Test: tampered", "fields": ["town"], "problem": "altered"},
            ),
            (
                "failure",
                load(other).public_id,
                {"reason": "Test: moved", "fields": ["address_line1"], "problem": "altered"},
            ),
        ]
        revealed = select(AuditEvent).where(AuditEvent.action == "data.revealed")
        assert db.session.execute(revealed).first() is None


def test_a_wrapped_key_copied_to_another_request_does_not_unwrap(app, staff):
    victim, other = new_request(app, staff, "email"), new_request(app, staff, "email")
    store(app, victim, "email")
    store(app, other, "email")
    with app.app_context():
        stolen = key_store.wrapped_keys([victim])[victim]
        with key_store.engine().begin() as connection:
            connection.execute(
                update(DataKey.__table__)
                .where(DataKey.capture_request_id == other)
                .values(nonce=stolen.nonce, wrapped_key=stolen.wrapped)
            )
        with pytest.raises(service.ValueUnreadable, match="may have been altered"):
            service.reveal(load(other), "Test: key swapped", CLERK, reauthenticated_at=utcnow())
        db.session.commit()


def test_conversion_reports_values_it_cannot_decrypt(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    request_id = new_request(app, staff, "contact")
    store_in_keyring_format(
        only_a, request_id, {"email": "a@example.org", "phone": "+442079460958"}
    )
    with only_a.app_context():
        db.session.execute(
            update(CapturedValue)
            .where(CapturedValue.field_name == "phone")
            .values(ciphertext=b"\0" * 32)
        )
        db.session.commit()
    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    result = b_then_a.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "converted to the envelope format: 1 value(s)" in result.output
    assert "failed 1" in result.output
    with b_then_a.app_context():
        formats = db.session.execute(
            select(CapturedValue.field_name, CapturedValue.format).order_by(CapturedValue.id)
        ).all()
    assert formats == [("email", FORMAT_ENVELOPE), ("phone", FORMAT_KEYRING)]


def test_removing_a_key_too_early_is_caught(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    request_id = new_request(app, staff, "email")
    store(only_a, request_id, "email")
    only_b = app_factory(DATA_ENCRYPTION_KEYS=keys["B"])
    status = only_b.test_cli_runner().invoke(args=["keys", "status"])
    assert status.exit_code == 1
    assert "NOT CONFIGURED: these data keys cannot be read" in status.output
    with only_b.app_context():
        unreadable = "^Email address cannot be read: the key for the stored data is not configured"
        with pytest.raises(service.ValueUnreadable, match=unreadable):
            service.reveal(
                load(request_id), "Test: key removed", CLERK, reauthenticated_at=utcnow()
            )
        db.session.commit()
        failed = select(AuditEvent.details).where(AuditEvent.action == "data.reveal_failed")
        assert db.session.scalar(failed)["problem"] == "key_not_configured"
    rotate = only_b.test_cli_runner().invoke(args=["keys", "rotate"])
    assert rotate.exit_code == 1 and "failed 1" in rotate.output
    assert f"could not unwrap the data keys of capture requests: {request_id}" in rotate.output


def test_generate_prints_a_usable_key(app):
    output = app.test_cli_runner().invoke(args=["keys", "generate", "--id", "k2027"]).output
    key_id, _, encoded = output.strip().partition(":")
    assert key_id == "k2027" and len(base64.b64decode(encoded)) == 32
    assert parse_keyring(output.strip()).newest_id == "k2027"
