"""Data-key rotation with ``flask keys``: values written under key A are re-encrypted under a
newer key B while the app keeps running; afterwards A can go. Tampered or misplaced ciphertext
never decrypts: a reveal says so, and the attempt is audited."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select, update

from portal.audit import CLI
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.captured_data import CapturedValue
from portal.models.types import utcnow
from portal.personal_data import rotation, service
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


def key_ids(app) -> list[str]:
    with app.app_context():
        return db.session.execute(select(CapturedValue.key_id)).scalars().all()


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


def test_rotation_re_encrypts_everything_and_the_old_key_can_then_go(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    request_ids = {name: new_request(app, staff, name) for name in ENTERED}
    for name, request_id in request_ids.items():
        store(only_a, request_id, name)
    before = read_all(only_a, request_ids)
    assert set(key_ids(only_a)) == {"key-a"}
    total = len(key_ids(only_a))

    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    runner = b_then_a.test_cli_runner()
    status = runner.invoke(args=["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "newest key (encrypts new values): key-b" in status.output
    assert f"{total} value(s) under older keys" in status.output

    result = runner.invoke(args=["keys", "rotate", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert f"re-encrypted under key-b: {total} value(s)" in result.output
    assert set(key_ids(b_then_a)) == {"key-b"}
    assert read_all(b_then_a, request_ids) == before

    again = runner.invoke(args=["keys", "rotate"])
    assert again.exit_code == 0 and "re-encrypted under key-b: 0 value(s)" in again.output
    assert "every value is under the newest key" in runner.invoke(args=["keys", "status"]).output

    only_b = app_factory(DATA_ENCRYPTION_KEYS=keys["B"])
    assert read_all(only_b, request_ids) == before

    with only_b.app_context():
        rotated = (
            db.session.execute(select(AuditEvent).where(AuditEvent.action == "keys.rotated"))
            .scalars()
            .all()
        )
        assert [e.details["rotated"] for e in rotated] == [total, 0]
        assert rotated[0].details["newest_key_id"] == "key-b"
        assert rotated[0].actor_label == "cli"
        started = (
            db.session.execute(
                select(AuditEvent).where(AuditEvent.action == "keys.rotation_started")
            )
            .scalars()
            .all()
        )
        assert [e.details["pending"] for e in started] == [total, 0]


def test_new_values_use_the_newest_key_while_old_ones_still_read(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    old_request = new_request(app, staff, "email")
    store(only_a, old_request, "email")
    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    new_request_id = new_request(app, staff, "phone")
    store(b_then_a, new_request_id, "phone")
    assert sorted(key_ids(b_then_a)) == ["key-a", "key-b"]
    values = read_all(b_then_a, {"email": old_request, "phone": new_request_id})
    assert values == {
        "email": {"email": "Zephyrine.Q@wexcombe-parva.co.uk"},
        "phone": {"phone": "+442079460958"},
    }


def test_rows_changed_during_rotation_are_left_alone(app, app_factory, staff, keys):
    """The conditional UPDATE (id and old key id) loses gracefully to a concurrent rotation or
    erasure instead of overwriting it."""
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    rotated_meanwhile, erased_meanwhile = (new_request(app, staff, "email") for _ in range(2))
    store(only_a, rotated_meanwhile, "email")
    store(only_a, erased_meanwhile, "email")
    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    with b_then_a.app_context():
        columns = CapturedValue.__table__.c
        stale = {
            row.capture_request_id: row
            for row in db.session.execute(
                select(
                    columns.id,
                    columns.capture_request_id,
                    columns.field_name,
                    columns.key_id,
                    columns.nonce,
                    columns.ciphertext,
                )
            )
        }
        # Another process rotates one row and erases the other after we read them.
        assert rotation.rotate(batch_size=1, actor=CLI).rotated == 2
        service.erase(load(erased_meanwhile), "subject erasure request", CLERK)
        db.session.commit()
        result = rotation.RotationResult(current_keyring().newest_id)
        for row in stale.values():
            rotation._rotate_row(current_keyring(), row, result)
        db.session.commit()
        assert (result.rotated, result.skipped, result.failed_ids) == (0, 2, [])
        value = service.reveal(
            load(rotated_meanwhile), "Test: still readable", CLERK, reauthenticated_at=utcnow()
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

        # A value copied to another request (AAD names the request it was captured for).
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


def test_rotation_reports_values_it_cannot_decrypt(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    request_id = new_request(app, staff, "contact")
    store(only_a, request_id, "contact")
    with only_a.app_context():
        row = db.session.execute(
            select(CapturedValue).where(CapturedValue.field_name == "phone")
        ).scalar_one()
        db.session.execute(
            update(CapturedValue).where(CapturedValue.id == row.id).values(ciphertext=b"\0" * 32)
        )
        db.session.commit()
    b_then_a = app_factory(DATA_ENCRYPTION_KEYS=f"{keys['B']},{keys['A']}")
    result = b_then_a.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "re-encrypted under key-b: 1 value(s)" in result.output and "failed 1" in result.output
    assert sorted(key_ids(b_then_a)) == ["key-a", "key-b"]


def test_removing_a_key_too_early_is_caught(app, app_factory, staff, keys):
    only_a = app_factory(DATA_ENCRYPTION_KEYS=keys["A"])
    request_id = new_request(app, staff, "email")
    store(only_a, request_id, "email")
    only_b = app_factory(DATA_ENCRYPTION_KEYS=keys["B"])
    status = only_b.test_cli_runner().invoke(args=["keys", "status"])
    assert status.exit_code == 1
    assert "NOT CONFIGURED: these values cannot be read" in status.output
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


def test_generate_prints_a_usable_key(app):
    output = app.test_cli_runner().invoke(args=["keys", "generate", "--id", "k2027"]).output
    key_id, _, encoded = output.strip().partition(":")
    assert key_id == "k2027" and len(base64.b64decode(encoded)) == 32
