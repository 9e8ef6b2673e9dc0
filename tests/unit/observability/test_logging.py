"""Structured logs: one access line per request, with the route pattern and never the path."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.support.web import login


@pytest.fixture
def app(app_factory):
    app = app_factory()

    @app.get("/test-only/items/<token>")
    def item(token):
        logging.getLogger("portal.test").warning("looked at %s", f"/c/{token}")
        return "ok"

    return app


@pytest.fixture
def log_lines(app):
    handler = next(h for h in logging.getLogger("postern").handlers if getattr(h, "_postern", 0))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines(logger: str | None = None) -> list[dict]:
        parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
        return [line for line in parsed if logger is None or line["logger"] == logger]

    yield lines
    handler.setStream(previous)


def test_the_access_line_has_the_route_pattern_not_the_path_or_query(app, log_lines):
    client = app.test_client()
    response = client.get("/test-only/items/SECRETLINKTOKEN123?email=ann%40example.com&code=99")
    assert response.status_code == 200
    (line,) = log_lines("postern.access")
    assert line["route"] == "/test-only/items/<token>"
    assert line["endpoint"] == "item" and line["method"] == "GET" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["message"] == "request GET /test-only/items/<token> 200"
    assert line["level"] == "INFO"
    everything = json.dumps(log_lines())
    for leaked in ("SECRETLINKTOKEN123", "ann@example.com", "ann%40example.com", "code=99", "?"):
        assert leaked not in everything, leaked


def test_a_link_token_logged_by_a_view_is_masked(app, log_lines):
    app.test_client().get("/test-only/items/SECRETLINKTOKEN123")
    (line,) = log_lines("portal.test")
    assert line["message"] == "looked at /c/[REDACTED]"
    assert line["request_id"]


def test_customer_link_routes_log_their_pattern(app, log_lines):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/c/<")]
    if not rules:
        pytest.skip("no customer link routes registered yet")
    rule = next(r for r in rules if "GET" in r.methods)
    path = rule.rule.replace("<token>", "SECRETLINKTOKEN123")
    app.test_client().get(path)
    (line,) = log_lines("postern.access")
    assert line["route"] == rule.rule
    assert "SECRETLINKTOKEN123" not in json.dumps(log_lines())


def test_unmatched_paths_are_not_logged_verbatim(app, log_lines):
    app.test_client().get("/wp-admin/SECRETPROBE?password=hunter2")
    (line,) = log_lines("postern.access")
    assert line["route"] == "<unmatched>" and line["status"] == 404
    assert "SECRETPROBE" not in json.dumps(log_lines()) and "hunter2" not in json.dumps(log_lines())


def test_a_sign_in_logs_no_username_password_or_cookie(app, log_lines, make_staff):
    user = make_staff("agent")
    client = app.test_client()
    login(client, user)
    client.get("/agent/")
    text = json.dumps(log_lines())
    assert user.username not in text
    assert "correct horse" not in text
    assert client.get_cookie("postern_session").value not in text
    assert {line["route"] for line in log_lines("postern.access")} >= {"/login", "/agent/"}


def test_the_werkzeug_development_access_line_is_silenced(app):
    assert logging.getLogger("werkzeug").getEffectiveLevel() >= logging.WARNING


def test_postern_loggers_write_through_one_redacting_handler(app):
    for name in ("postern", "portal", "gunicorn.error", "werkzeug"):
        handlers = [h for h in logging.getLogger(name).handlers if getattr(h, "_postern", 0)]
        assert len(handlers) == 1, name
        assert not logging.getLogger(name).propagate
        filters = {type(f).__name__ for f in handlers[0].filters}
        assert {"RedactionFilter", "RequestIdFilter"} <= filters
