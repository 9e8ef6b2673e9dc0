"""TOTP seeds are stored sealed with the data keyring: never in clear in the database, bound to
their account and key id, and re-sealed under the newest key by ``flask keys rotate``."""

from __future__ import annotations

import base64
import os

import pyotp
import pytest
from sqlalchemy import text

from config.keyring import UnknownKeyError
from portal.extensions import db
from portal.models.sealed_secret import SealedSecretError
from portal.models.staff import StaffUser
from portal.staff import mfa
from tests.support.backoffice_write import audit_rows

OLD = {"k2026a": base64.b64encode(os.urandom(32)).decode()}
NEW = {"k2027a": base64.b64encode(os.urandom(32)).decode()}


def _user(user_id: int) -> StaffUser:
    db.session.expire_all()
    return db.session.get(StaffUser, user_id)


def _raw_row(user_id: int) -> dict:
    row = db.session.execute(
        text("SELECT * FROM staff_users WHERE id = :id"), {"id": user_id}
    ).one()
    return dict(row._mapping)


def _as_text(row: dict) -> str:
    """Every column as text, bytes both raw and base32/base64-encoded: where a clear seed
    would show however it was stored."""
    parts = []
    for value in row.values():
        if isinstance(value, (bytes, memoryview)):
            raw = bytes(value)
            parts += [raw.decode("latin-1"), base64.b32encode(raw).decode(), raw.hex()]
        else:
            parts.append(str(value))
    return "\n".join(parts)


def test_the_database_never_holds_the_seed_in_clear(app, make_staff):
    staff = make_staff("backoffice", mfa=True)
    with app.app_context():
        row = _raw_row(staff.id)
        assert "totp_secret" not in row  # the clear column is gone
        assert row["totp_key_id"] == next(iter(app.config["DATA_ENCRYPTION_KEYS"].split(":")))
        assert len(bytes(row["totp_nonce"])) == 12
        assert staff.totp_secret not in _as_text(row)
        assert staff.totp_secret.lower() not in _as_text(row).lower()
        assert _user(staff.id).totp_secret == staff.totp_secret  # and it reads back


def test_sealing_twice_gives_different_ciphertexts(app, make_staff):
    staff = make_staff("agent")
    with app.app_context():
        user = _user(staff.id)
        seed = pyotp.random_base32()
        user.totp_secret = seed
        first = bytes(user.totp_ciphertext)
        user.totp_secret = seed
        assert bytes(user.totp_ciphertext) != first  # a fresh nonce each time
        assert user.totp_secret == seed


def test_a_seal_copied_to_another_account_does_not_open(app, make_staff):
    victim, attacker = make_staff("admin", mfa=True), make_staff("agent", mfa=True)
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE staff_users SET totp_key_id = v.totp_key_id, totp_nonce = v.totp_nonce,"
                " totp_ciphertext = v.totp_ciphertext FROM (SELECT totp_key_id, totp_nonce,"
                " totp_ciphertext FROM staff_users WHERE id = :victim) AS v WHERE id = :attacker"
            ),
            {"victim": victim.id, "attacker": attacker.id},
        )
        db.session.commit()
        with pytest.raises(SealedSecretError, match=f"staff account {attacker.id}"):
            _user(attacker.id).totp_secret  # noqa: B018
        # ... and checking a code with it fails closed, as an error, never as a match.
        with pytest.raises(SealedSecretError):
            mfa.verify_totp(_user(attacker.id), pyotp.TOTP(victim.totp_secret).now())


def test_an_altered_seal_fails_authentication(app, make_staff):
    staff = make_staff("agent", mfa=True)
    with app.app_context():
        user = _user(staff.id)
        flipped = bytearray(user.totp_ciphertext)
        flipped[0] ^= 1
        user.totp_ciphertext = bytes(flipped)
        with pytest.raises(SealedSecretError):
            user.totp_secret  # noqa: B018


def test_a_new_account_gets_its_seed_only_once_it_has_an_id(app):
    with app.app_context(), pytest.raises(ValueError, match="flush a new staff account"):
        StaffUser(username="x", display_name="x", role="agent").totp_secret = "A" * 32


def test_rotation_reseals_every_seed_and_codes_still_work(app_factory, make_staff):
    old_app = app_factory(DATA_ENCRYPTION_KEYS=OLD)
    from tests.support.staff import create_staff_account

    staff = [create_staff_account(old_app, "backoffice", f"officer{n}", mfa=True) for n in (1, 2)]
    rotating = app_factory(DATA_ENCRYPTION_KEYS={**NEW, **OLD})  # newest first
    cli = rotating.test_cli_runner()

    status = cli.invoke(args=["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "k2026a" in status.output and "2 TOTP seed(s) under older keys" in status.output

    rotated = cli.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "re-sealed TOTP seeds under k2027a: 2; examined 2" in rotated.output
    [row] = audit_rows(rotating, "keys.totp_seeds_resealed")
    assert row.details == {"examined": 2, "resealed": 2, "skipped": 0, "failed": 0}

    again = cli.invoke(args=["keys", "rotate"])
    assert "re-sealed TOTP seeds under k2027a: 0; examined 0" in again.output

    new_only = app_factory(DATA_ENCRYPTION_KEYS=NEW)  # the old key can now go
    with new_only.app_context():
        for person in staff:
            user = _user(person.id)
            assert user.totp_key_id == "k2027a"
            assert user.totp_secret == person.totp_secret
            assert mfa.verify_totp(user, pyotp.TOTP(person.totp_secret).now())


def test_rotation_reports_a_seed_it_cannot_open_and_exits_1(app_factory, make_staff):
    old_app = app_factory(DATA_ENCRYPTION_KEYS=OLD)
    from tests.support.staff import create_staff_account

    person = create_staff_account(old_app, "backoffice", "officer", mfa=True)
    with old_app.app_context():
        db.session.execute(
            text("UPDATE staff_users SET totp_nonce = :nonce WHERE id = :id"),
            {"nonce": b"\0" * 12, "id": person.id},
        )
        db.session.commit()
    rotating = app_factory(DATA_ENCRYPTION_KEYS={**NEW, **OLD})
    result = rotating.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert f"could not decrypt the TOTP seeds of staff ids: {person.id}" in result.output
    assert person.totp_secret not in result.output


def test_a_seed_under_a_removed_key_is_named_not_guessed(app_factory, make_staff):
    old_app = app_factory(DATA_ENCRYPTION_KEYS=OLD)
    from tests.support.staff import create_staff_account

    person = create_staff_account(old_app, "backoffice", "officer", mfa=True)
    too_early = app_factory(DATA_ENCRYPTION_KEYS=NEW)  # old key removed before rotating
    status = too_early.test_cli_runner().invoke(args=["keys", "status"])
    assert status.exit_code == 1 and "k2026a" in status.output
    assert "NOT CONFIGURED" in status.output
    with too_early.app_context(), pytest.raises(UnknownKeyError, match="k2026a"):
        _user(person.id).totp_secret  # noqa: B018
