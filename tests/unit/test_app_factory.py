"""Building the application has no side effects: nothing connects, nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from portal import create_app
from portal.extensions import db
from tests.support.database import dispose_engines


def test_building_the_app_creates_no_database_file(tmp_path):
    target = tmp_path / "not-yet" / "postern.sqlite3"
    before = sorted(tmp_path.rglob("*"))
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("not-yet/postern.sqlite3")
    assert not target.exists() and not target.parent.exists()
    assert sorted(tmp_path.rglob("*")) == before
    with app.app_context():
        dispose_engines(db)


def test_building_the_app_does_not_connect_to_the_database():
    # Nothing listens on port 1: any connection attempt at build time would fail loudly.
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "postgresql://127.0.0.1:1/none"})
    assert "auth" in app.blueprints
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
        dispose_engines(db)


def test_building_a_second_app_leaves_the_first_one_as_it_was():
    first = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "FORCE_HTTPS": True})
    assert first.test_client().get("/healthz").status_code == 200  # not sent to https


def test_postgresql_connections_give_up_after_the_configured_timeout():
    """Proves: a PostgreSQL connection attempt is bounded (a host that drops packets would
    otherwise hold a request or a worker for minutes), and SQLite is left as it is."""
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://127.0.0.1:1/none",
            "DATABASE_CONNECT_TIMEOUT_SECONDS": 3,
        },
    )
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] == {"connect_timeout": 3}
    sent = {}
    with app.app_context():
        event.listen(db.engine, "do_connect", lambda _d, _r, _a, params: sent.update(params))
        with pytest.raises(OperationalError):  # nothing listens on port 1
            db.engine.connect()
        dispose_engines(db)
    assert sent["connect_timeout"] == 3
    sqlite = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert "connect_args" not in sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]
