"""Liveness and readiness probes."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.extensions import db
from tests.conftest import post_form


def test_healthz_answers_without_touching_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_answers_200_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "database": "ok"}


@pytest.mark.parametrize(
    "unreachable",
    [
        "sqlite:////nonexistent-directory/for/postern/test.sqlite3",
        "postgresql://127.0.0.1:1/postern",  # nothing listens on port 1
    ],
)
def test_readyz_answers_503_when_the_database_is_unreachable(unreachable):
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": unreachable})
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    body = response.get_data(as_text=True)
    assert "nonexistent" not in body and "127.0.0.1" not in body and "Error" not in body
    # The process itself is still alive.
    assert client.get("/healthz").status_code == 200
    # A page that needs the database says so plainly, without the driver's message.
    page = post_form(client, "/login", {"username": "someone", "password": "a password"})
    assert page.status_code == 503
    assert "temporarily unavailable" in page.get_data(as_text=True)
    assert "nonexistent" not in page.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def test_probes_need_no_session_and_carry_the_security_headers(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path
        assert response.headers["Cache-Control"] == "no-store"
        assert "Content-Security-Policy" in response.headers
        assert response.headers["X-Request-ID"]
