"""Migration 0013 on a database with enrolled staff in it: clear TOTP seeds are sealed with the
data keyring and the clear column is dropped; codes from the same authenticator still work;
and a downgrade gives the seeds back.

Runs on a database of its own, migrated to 0012 first: a fresh SQLite file, and on PostgreSQL
(``TEST_DATABASE_URL``) a schema of its own in the test database.
"""

from __future__ import annotations

import pyotp
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tests.support.database import database_of_its_own, dispose_engines

_INSERT = text(
    "INSERT INTO staff_users (username, display_name, role, password_hash, password_changed_at,"
    " is_active, failed_login_count, totp_secret, mfa_enabled, created_at)"
    " VALUES (:username, :username, 'backoffice', '$argon2id$x', :now, TRUE, 0, :seed, :on,"
    " :now)"
)


@pytest.fixture
def own_database(tmp_path, database_url):
    with database_of_its_own(database_url, tmp_path, "m0013") as url:
        yield url


def test_clear_seeds_are_sealed_and_still_give_the_same_codes(own_database):
    from portal import create_app
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.models.types import utcnow
    from portal.staff import mfa

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": own_database})
    seeds = {"enrolled": pyotp.random_base32(), "enrolling": pyotp.random_base32()}
    with app.app_context():
        upgrade(revision="0012")
        now = utcnow()
        for username, seed in [*seeds.items(), ("never", None)]:
            db.session.execute(
                _INSERT,
                {"username": username, "seed": seed, "on": username == "enrolled", "now": now},
            )
        db.session.commit()

        upgrade(revision="0013")

        columns = {c["name"] for c in inspect(db.engine).get_columns("staff_users")}
        assert "totp_secret" not in columns
        assert {"totp_key_id", "totp_nonce", "totp_ciphertext", "password_must_change"} <= columns
        raw = db.session.execute(text("SELECT * FROM staff_users ORDER BY id")).all()
        dumped = repr(raw) + "".join(
            bytes(v).hex() for row in raw for v in row if isinstance(v, (bytes, memoryview))
        )
        assert not any(seed in dumped or seed.encode().hex() in dumped for seed in seeds.values())

        users = {u.username: u for u in db.session.query(StaffUser)}
        assert users["never"].totp_secret is None and users["never"].totp_key_id is None
        newest = app.config["DATA_ENCRYPTION_KEYS"].split(":")[0]
        for username, seed in seeds.items():
            assert users[username].totp_key_id == newest
            assert users[username].totp_secret == seed
            assert not users[username].password_must_change
        assert mfa.verify_totp(users["enrolled"], pyotp.TOTP(seeds["enrolled"]).now())
        db.session.commit()
        db.session.remove()

        # And back: the clear column returns with the same seeds in it.
        downgrade(revision="0012")
        back = dict(db.session.execute(text("SELECT username, totp_secret FROM staff_users")).all())
        assert back == {**seeds, "never": None}
        db.session.remove()
        dispose_engines(db)
