"""The key store's URL: derived beside the main database outside production; in production set,
PostgreSQL, and never the main database itself (under any login)."""

from __future__ import annotations

import pytest

from config.production_rules import key_store_problems
from config.settings import DEV_DATABASE_URL, INSTANCE_DIR, database_binds, key_store_url
from tests.unit.config.production_values import good_production_settings


def test_the_embedded_database_keeps_its_keys_in_a_file_of_their_own_under_instance():
    url = key_store_url({"SQLALCHEMY_DATABASE_URI": DEV_DATABASE_URL})
    assert url == f"sqlite:///{INSTANCE_DIR / 'postern-keys.sqlite3'}"


def test_each_test_database_gets_its_own_key_store(tmp_path):
    main = f"sqlite:///{tmp_path / 'postern-test.sqlite3'}"
    assert key_store_url({"SQLALCHEMY_DATABASE_URI": main}) == (
        f"sqlite:///{tmp_path / 'postern-test-keys.sqlite3'}"
    )
    first = key_store_url({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://h/one"})
    second = key_store_url(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u:pw@h:5433/two?options=-csearch_path%3Ds"
        }
    )
    assert first == "postgresql+psycopg://h/one_keys"
    assert second == "postgresql+psycopg://u:pw@h:5433/two_keys"  # not the main's search_path


def test_a_configured_url_wins_and_production_never_derives_one():
    configured = {"KEY_STORE_URL": "postgresql://k/keys", "SQLALCHEMY_DATABASE_URI": "x"}
    assert key_store_url(configured) == "postgresql+psycopg://k/keys"
    assert key_store_url({"ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": "x"}) == ""
    binds = database_binds({**configured, "DATABASE_CONNECT_TIMEOUT_SECONDS": 3})
    assert binds["keys"]["url"] == "postgresql+psycopg://k/keys"
    assert binds["keys"]["connect_args"] == {"connect_timeout": 3}
    assert "connect_args" not in database_binds({"SQLALCHEMY_DATABASE_URI": "sqlite://"})["keys"]


def test_a_good_production_key_store_passes():
    assert key_store_problems(good_production_settings()) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "POSTERN_KEY_STORE_URL is not set"),
        ("sqlite:////var/lib/postern/keys.sqlite3", "must point at PostgreSQL"),
        ("postgresql+psycopg://postern@db.internal/postern", "names the same database"),
        # Another login, driver or spelling of the same database is still the same database.
        ("postgresql://keys:pw@DB.internal:5432/postern", "names the same database"),
        # Another database on the same server is in every backup of that server.
        ("postgresql+psycopg://keys@db.internal/postern_keys", "same PostgreSQL server"),
        ("postgresql://keys@DB.internal:5432/keys", "same PostgreSQL server"),
    ],
)
def test_production_refuses_a_key_store_beside_the_values(url, problem):
    settings = {**good_production_settings(), "KEY_STORE_URL": url}
    problems = key_store_problems(settings)
    assert len(problems) == 1 and problem in problems[0]
    assert "pw" not in problems[0]
