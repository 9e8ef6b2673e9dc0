"""The console's live-status poll (every 1.5 s per open console) is not an INFO access line
when it is answered normally; its errors are, other requests are, and the metrics count all."""

from __future__ import annotations

import io
import json
import logging

import pytest

from portal.observability import metrics as m

POLL = {"X-Postern-Background": "poll", "Accept": "application/json"}
ROUTE = "/agent/api/requests"


@pytest.fixture
def access_lines(app):
    handler = next(h for h in logging.getLogger("postern").handlers if getattr(h, "_postern", 0))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict]:
        parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
        return [line for line in parsed if line["logger"] == "postern.access"]

    yield lines
    handler.setStream(previous)


def _counted(status: str) -> float:
    return m.HTTP_REQUESTS.labels(route=ROUTE, method="GET", status=status)._value.get()


def test_a_normal_poll_writes_no_info_line_but_is_counted(logged_in, access_lines):
    client, _agent = logged_in("agent")
    before_200, before_304 = _counted("200"), _counted("304")
    first = client.get(ROUTE, headers=POLL)
    assert first.status_code == 200
    again = client.get(ROUTE, headers={**POLL, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert [line for line in access_lines() if line["route"] == ROUTE] == []
    assert _counted("200") == before_200 + 1
    assert _counted("304") == before_304 + 1


def test_the_same_route_without_the_poll_header_is_logged(logged_in, access_lines):
    client, _agent = logged_in("agent")
    assert client.get(ROUTE).status_code == 200
    (line,) = [line for line in access_lines() if line["route"] == ROUTE]
    assert line["level"] == "INFO" and line["status"] == 200


def test_a_failed_poll_is_still_logged(app, access_lines):
    # Signed out: the poll is refused, and that must show in the log.
    response = app.test_client().get(ROUTE, headers=POLL)
    assert response.status_code in (302, 401)
    (line,) = [line for line in access_lines() if line["route"] == ROUTE]
    assert line["level"] == "INFO" and line["status"] == response.status_code


def test_the_header_alone_hides_nothing(logged_in, access_lines):
    client, _agent = logged_in("agent")
    assert client.get("/agent/", headers=POLL).status_code == 200
    lines = [line for line in access_lines() if line["route"] == "/agent/"]
    assert [line["level"] for line in lines] == ["INFO"]


def test_only_a_normally_answered_poll_of_a_poll_route_is_quiet():
    from portal.observability.logging import access_level

    assert access_level("agent.api_requests", 304, "poll") == logging.DEBUG
    assert access_level("agent.api_status", 200, "poll") == logging.DEBUG
    assert access_level("agent.api_requests", 500, "poll") == logging.INFO
    assert access_level("agent.api_requests", 200, None) == logging.INFO
    assert access_level("agent.console", 200, "poll") == logging.INFO
