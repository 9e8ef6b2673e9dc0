"""The key store's table, created by migration 0016 in its own database, is exactly what the
model describes, and nothing of it is in the main database."""

from __future__ import annotations

import pprint

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from portal.extensions import db
from portal.models.data_keys import KEY_STORE_BIND


def test_the_key_store_matches_its_model_and_lives_apart(app):
    with app.app_context():
        keys_engine = db.engines[KEY_STORE_BIND]
        assert keys_engine.url != db.engine.url
        with keys_engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadatas[KEY_STORE_BIND])
        assert differences == [], pprint.pformat(differences)
        assert "data_keys" not in inspect(db.engine).get_table_names()
        assert "captured_values" not in inspect(keys_engine).get_table_names()
