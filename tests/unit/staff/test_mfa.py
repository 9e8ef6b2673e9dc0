"""TOTP verification (window, replay) and recovery codes, against the database."""

from __future__ import annotations

import time

import pyotp
import pytest

from portal.extensions import db
from portal.models.staff import RecoveryCode, StaffUser
from portal.staff import mfa


@pytest.fixture
def user_id(make_staff):
    return make_staff("agent", mfa=True).id


def _user(user_id: int) -> StaffUser:
    db.session.expire_all()
    return db.session.get(StaffUser, user_id)


def _code(user: StaffUser, steps: int = 0) -> str:
    totp = pyotp.TOTP(user.totp_secret)
    return totp.at(time.time() + steps * totp.interval)


def test_a_current_code_is_accepted_once(app, user_id):
    with app.app_context():
        user = _user(user_id)
        code = _code(user)
        assert mfa.verify_totp(user, code)
        db.session.commit()
        assert not mfa.verify_totp(_user(user_id), code)


def test_an_older_code_is_refused_once_a_newer_one_was_used(app, user_id):
    with app.app_context():
        user = _user(user_id)
        assert mfa.verify_totp(user, _code(user, 1))
        db.session.commit()
        previous = _code(user, -1)
        if previous != _code(user, 1):
            assert not mfa.verify_totp(_user(user_id), previous)


@pytest.mark.parametrize("steps", [-1, 1])
def test_one_step_of_clock_drift_is_tolerated(app, user_id, steps):
    with app.app_context():
        user = _user(user_id)
        assert mfa.verify_totp(user, _code(user, steps))


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "1234567", "abcdef", "      "],
)
def test_malformed_codes_are_refused(app, user_id, typed):
    with app.app_context():
        assert not mfa.verify_totp(_user(user_id), typed)


def test_spaces_in_a_typed_code_are_ignored(app, user_id):
    with app.app_context():
        user = _user(user_id)
        code = _code(user)
        assert mfa.verify_totp(user, f"{code[:3]} {code[3:]}")


def test_a_user_without_a_secret_never_passes(app, make_staff):
    user_id = make_staff("agent").id
    with app.app_context():
        assert not mfa.verify_totp(_user(user_id), "123456")


def test_recovery_codes_are_ten_single_use_hashed_codes(app, user_id):
    with app.app_context():
        codes = mfa.issue_recovery_codes(_user(user_id))
        db.session.commit()
        assert len(codes) == len(set(codes)) == mfa.RECOVERY_CODE_COUNT
        stored = db.session.query(RecoveryCode).filter_by(user_id=user_id).all()
        assert all(row.code_hash.startswith("$argon2id$") for row in stored)
        assert not {row.code_hash for row in stored} & set(codes)

        assert mfa.use_recovery_code(_user(user_id), codes[0].upper().replace("-", " "))
        db.session.commit()
        assert not mfa.use_recovery_code(_user(user_id), codes[0])
        assert mfa.remaining_recovery_codes(_user(user_id)) == 9
        assert not mfa.use_recovery_code(_user(user_id), "aaaaa-bbbbb")


def test_issuing_new_recovery_codes_voids_the_old_ones(app, user_id):
    with app.app_context():
        old = mfa.issue_recovery_codes(_user(user_id))
        db.session.commit()
        new = mfa.issue_recovery_codes(_user(user_id))
        db.session.commit()
        assert not mfa.use_recovery_code(_user(user_id), old[0])
        assert mfa.use_recovery_code(_user(user_id), new[0])


def test_reset_removes_the_factor_entirely(app, user_id):
    with app.app_context():
        mfa.issue_recovery_codes(_user(user_id))
        user = _user(user_id)
        mfa.reset(user)
        db.session.commit()
        user = _user(user_id)
        assert user.totp_secret is None and not user.mfa_enabled and user.totp_last_step is None
        assert mfa.remaining_recovery_codes(user) == 0


def test_the_provisioning_uri_names_the_issuer_and_user(app, user_id):
    with app.app_context():
        user = _user(user_id)
        uri = mfa.provisioning_uri(user)
        assert uri.startswith("otpauth://totp/")
        assert "issuer=Postern" in uri and user.username in uri
        assert f"secret={user.totp_secret}" in uri
        assert b"<script" not in mfa.qr_svg(user)
