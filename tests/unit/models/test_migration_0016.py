"""Migration 0016's downgrade refuses while it would lose something, and refuses BEFORE it drops
anything (SQLite's DDL is not transactional, so a late refusal would leave the journal gone).

Runs on a database of its own: a fresh SQLite file, and on PostgreSQL (``TEST_DATABASE_URL``) a
schema of its own in the test database.
"""

from __future__ import annotations

import pytest
from alembic import command
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tests.support.database import database_of_its_own, dispose_engines


@pytest.fixture
def own_database(tmp_path, database_url):
    with database_of_its_own(database_url, tmp_path, "m0016") as url:
        yield url


def test_the_downgrade_keeps_the_erasure_journal_until_it_is_empty(own_database):
    from portal import create_app
    from portal.extensions import db

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": own_database})
    with app.app_context():
        upgrade(revision="heads")
        db.session.execute(
            text(
                "INSERT INTO erasure_journal (capture_request_id, cause, erased_at)"
                " VALUES (41, 'subject', CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        db.session.remove()

        # Alembic itself, so the refusal arrives as raised (Flask-Migrate logs it and exits).
        config = app.extensions["migrate"].migrate.get_config()
        with pytest.raises(RuntimeError, match=r"the erasure journal holds 1 erasure\(s\)"):
            command.downgrade(config, "0015")
        db.session.remove()
        tables = inspect(db.engine).get_table_names()
        assert "erasure_journal" in tables
        journaled = db.session.execute(text("SELECT capture_request_id FROM erasure_journal"))
        assert journaled.scalars().all() == [41]
        columns = {c["name"] for c in inspect(db.engine).get_columns("captured_values")}
        assert "format" in columns

        db.session.execute(text("DELETE FROM erasure_journal"))
        db.session.commit()
        db.session.remove()
        downgrade(revision="0015")
        assert "erasure_journal" not in inspect(db.engine).get_table_names()
        columns = {c["name"] for c in inspect(db.engine).get_columns("captured_values")}
        assert "format" not in columns
        upgrade(revision="heads")  # and forward again
        assert "erasure_journal" in inspect(db.engine).get_table_names()
        db.session.remove()
        dispose_engines(db)
