"""POSTERN_DATABASE_POOLER: what sits between Postern and PostgreSQL, and what it asks of the
driver (docs/scaling.md). The behaviour behind a real PgBouncer is proven in
tests/prodlike/test_pgbouncer_transaction_mode.py; this holds the setting's contract."""

from __future__ import annotations

import pytest

from config.settings import ConfigError, database_binds, pooler_connect_args

POSTGRES = "postgresql+psycopg://127.0.0.1:6432/postern"


def test_no_pooler_asks_nothing_of_the_driver():
    assert pooler_connect_args({}) == {}
    assert pooler_connect_args({"DATABASE_POOLER": ""}) == {}


def test_pgbouncer_in_transaction_mode_turns_server_side_prepares_off():
    assert pooler_connect_args({"DATABASE_POOLER": "pgbouncer-transaction"}) == {
        "prepare_threshold": None
    }


@pytest.mark.parametrize("typo", ["pgbouncer", "transaction", "PgBouncer-Transaction"])
def test_an_unknown_pooler_refuses_to_start(typo):
    with pytest.raises(ConfigError, match="POSTERN_DATABASE_POOLER must be empty or one of"):
        pooler_connect_args({"DATABASE_POOLER": typo})


def test_the_app_and_its_key_store_connect_without_prepares_behind_pgbouncer():
    from portal import create_app

    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": POSTGRES,
            "KEY_STORE_URL": POSTGRES + "_keys",
            "DATABASE_POOLER": "pgbouncer-transaction",
        },
    )
    main = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert main["prepare_threshold"] is None
    assert main["connect_timeout"] == app.config["DATABASE_CONNECT_TIMEOUT_SECONDS"]
    keys = database_binds(app.config)["keys"]["connect_args"]
    assert keys["prepare_threshold"] is None


def test_without_a_pooler_psycopg_keeps_its_own_default():
    from portal import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": POSTGRES})
    assert "prepare_threshold" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
