"""The test database: which one (SQLite unless ``TEST_DATABASE_URL`` names another), a fresh
schema for the session, every table emptied after a test, and the skip mark for tests only
PostgreSQL can run."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config.settings import _normalise_database_url, key_store_url

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith(("postgres://", "postgresql"))


def needs_postgres(why: str) -> pytest.MarkDecorator:
    """Skip, saying ``why``, unless the suite runs on PostgreSQL (``TEST_DATABASE_URL``)."""
    return pytest.mark.skipif(
        not ON_POSTGRES,
        reason=f"needs PostgreSQL: set TEST_DATABASE_URL=postgresql://... ({why})",
    )


def database_url_for(tmp_path_factory) -> str:
    """``TEST_DATABASE_URL`` (normalised as production does; one database per xdist worker),
    else a fresh SQLite file (per worker too: each has its own temporary directory)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return worker_database_url(_normalise_database_url(url))
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'postern-test.sqlite3'}"


def worker_database_url(url: str) -> str:
    """The database this test process uses on the server at ``url``: ``url`` itself in a run
    without workers; under pytest-xdist, a database of the worker's own beside it
    (``test_gw0``, ``test_gw1``: created when missing), so two workers never share a schema,
    empty each other's tables mid-test or mix their kept rows. The key store follows
    (``test_gw0_keys``: see ``config.settings.key_store_url``)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    _create_database_if_missing(url, name)
    return parsed.set(database=name).render_as_string(hide_password=False)


def reset_schema(url: str) -> None:
    """Start the session from an empty database so migrations run from scratch (the key store
    the testing configuration pairs with it too: its table goes)."""
    keys_url = key_store_url(
        {"SQLALCHEMY_DATABASE_URI": url, "KEY_STORE_URL": os.environ.get("POSTERN_KEY_STORE_URL")}
    )
    if keys_url.startswith("postgresql"):
        _create_database_if_missing(url, make_url(keys_url).database)
    keys_engine = create_engine(keys_url)
    with keys_engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS data_keys"))
    keys_engine.dispose()
    if not url.startswith("postgresql"):
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _create_database_if_missing(server_url: str, name: str) -> None:
    """The PostgreSQL pass keeps its key store in a database of its own, as production does."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def dispose_engines(db) -> None:
    """Close every pooled connection of the current app: the main database's and the key
    store's (a bind of its own). An app's pools outlive the test that built it otherwise, and on
    PostgreSQL a few hundred tests' pools exhaust the server's connections."""
    for engine in db.engines.values():
        engine.dispose()


def empty_all_tables(db) -> None:
    """Delete every row of every table (TRUNCATE on PostgreSQL), children first; committed."""
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()
    for bind_key, metadata in db.metadatas.items():  # the key store (its own database)
        if bind_key is not None:
            with db.engines[bind_key].begin() as connection:
                for table in reversed(metadata.sorted_tables):
                    connection.execute(table.delete())


@contextmanager
def database_of_its_own(database_url: str, tmp_path, name: str) -> Iterator[str]:
    """The URL of an empty database for one test that migrates step by step (a migration's data
    test): a fresh SQLite file, or on PostgreSQL a schema of its own in the test database,
    dropped afterwards."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
        return
    schema = f"{name}_{secrets.token_hex(4)}"
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in database_url else "?"
    try:
        yield f"{database_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
