"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pprint

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from config.settings import PROJECT_ROOT
from portal.extensions import db


def test_the_migrated_database_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], (
        "The models and the migrations disagree. Write (by hand) a migration for:\n"
        + pprint.pformat(differences)
    )


def test_the_database_is_at_the_newest_revisions(app):
    scripts = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    with app.app_context(), db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    assert current == set(scripts.get_heads())


def test_every_revision_has_a_short_id_and_a_docstring():
    scripts = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    for revision in scripts.walk_revisions():
        assert len(revision.revision) <= 8, revision.revision
        assert revision.doc, f"migration {revision.revision} says nothing about itself"


def test_foundation_tables_exist(app):
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    assert {"staff_users", "staff_sessions", "audit_events", "teams", "mfa_recovery_codes"} <= (
        tables
    )
