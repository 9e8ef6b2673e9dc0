"""The access line written straight to the stream (portal.observability.logging) is the line
the logging machinery writes, field for field; anything it cannot vouch for takes the long,
redacting way."""

from __future__ import annotations

import io
import json
import logging
from contextlib import contextmanager

import pytest

from portal.observability import logging as plog


@contextmanager
def alone():
    """The postern handler alone, as in production: the suite adds its own log file and
    pytest its capture handlers (during the test itself), with which the direct line stands
    aside."""
    postern = logging.getLogger("postern")
    kept = postern.handlers
    postern.handlers = [h for h in kept if getattr(h, "_postern", 0)]
    try:
        yield
    finally:
        postern.handlers = kept


@pytest.fixture
def captured(app):
    postern = logging.getLogger("postern")
    handler = next(h for h in postern.handlers if getattr(h, "_postern", 0))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict]:
        parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
        buffer.seek(0)
        buffer.truncate()
        return [line for line in parsed if line["logger"] == "postern.access"]

    yield lines
    handler.setStream(previous)


def _without_clock(line: dict) -> dict:
    return {k: v for k, v in line.items() if k not in ("time", "duration_ms")}


@pytest.mark.parametrize("path", ["/login", "/c/not-a-real-token", "/no/such/page"])
def test_the_direct_line_is_the_logged_line(app, captured, monkeypatch, path):
    headers = {"X-Request-ID": "abcdef0123456789"}
    written = []
    real = plog._write_access_line
    monkeypatch.setattr(
        plog, "_write_access_line", lambda *a: written.append(real(*a)) or written[-1]
    )
    with alone():
        app.test_client().get(path, headers=headers)
    (direct,) = captured()
    assert written == [True]
    monkeypatch.setattr(plog, "_write_access_line", lambda *a: False)
    with alone():
        app.test_client().get(path, headers=headers)
    (logged,) = captured()
    assert list(direct) == list(logged)  # same keys, same order
    assert _without_clock(direct) == _without_clock(logged)
    assert len(direct["time"]) == len(logged["time"])


def test_a_request_id_that_could_be_a_card_number_is_redacted_the_long_way(app, captured):
    with alone():
        app.test_client().get("/login", headers={"X-Request-ID": "4242424242424242"})
    (line,) = captured()
    assert "4242424242424242" not in json.dumps(line)


def test_with_any_other_handler_listening_the_direct_line_stands_aside(app, monkeypatch):
    written = []
    real = plog._write_access_line
    monkeypatch.setattr(
        plog, "_write_access_line", lambda *a: written.append(real(*a)) or written[-1]
    )
    app.test_client().get("/login")
    assert written == [False]  # the suite's own log file is a second handler
