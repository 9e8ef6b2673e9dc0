"""HTTP/1.1 keep-alive: one connection serves many API calls, as api.stripe.com's do, and a
request never leaks into the next one on the same connection."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from .helpers import create_intent


@pytest.fixture
def connection(sandbox):
    opened = http.client.HTTPConnection(urlsplit(sandbox.url).netloc, timeout=5)
    yield opened
    opened.close()


def call(connection, sandbox, method, path, body=None, headers=None, **options):
    """One exchange on ``connection``: (status, Connection header, JSON answer, local port)."""
    connection.request(
        method,
        path,
        body=body,
        headers={"Authorization": f"Bearer {sandbox.secret_key}", **(headers or {})},
        **options,
    )
    answer = connection.getresponse()
    payload = json.loads(answer.read())
    return answer.status, answer.getheader("Connection"), payload, connection.sock


def test_one_connection_serves_many_calls(sandbox, stripe_client, connection):
    """Proves: the sandbox keeps the connection open after each answer (no "Connection:
    close"), so a client's pool reuses it instead of opening a TCP connection per call."""
    intent = create_intent(stripe_client)
    path = f"/v1/payment_intents/{intent.id}?expand[]=latest_charge"

    answers = [call(connection, sandbox, "GET", path) for _ in range(3)]

    assert [(status, header) for status, header, _, _ in answers] == [(200, None)] * 3
    assert all(payload["id"] == intent.id for _, _, payload, _ in answers)
    first_socket = answers[0][3]
    assert first_socket is not None and all(sock is first_socket for *_, sock in answers)


def test_a_body_the_view_did_not_read_never_reaches_the_next_request(
    sandbox, stripe_client, connection
):
    """Proves: what a view leaves unread of a body is skipped, exactly to its Content-Length,
    so the next request on the connection is read from its own first byte."""
    intent = create_intent(stripe_client)
    path = f"/v1/payment_intents/{intent.id}"
    looks_like_a_request = b"GET /v1/payment_intents/pi_other HTTP/1.1\r\n\r\n" * 50

    first = call(connection, sandbox, "GET", path, body=looks_like_a_request)
    second = call(connection, sandbox, "GET", path)

    assert (first[0], first[2]["id"]) == (200, intent.id)
    assert (second[0], second[2]["id"], second[1]) == (200, intent.id, None)
    assert first[3] is second[3]


def test_a_chunked_body_is_answered_then_the_connection_closes(sandbox, connection):
    """Proves: a body of unknown length still works (werkzeug reads it), and since where it
    ends cannot be trusted for the next request, that connection is closed after the answer."""
    status, header, payload, _ = call(
        connection,
        sandbox,
        "POST",
        "/v1/payment_intents",
        body=iter([b"amount=1234&", b"currency=gbp"]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        encode_chunked=True,
    )

    assert (status, header, payload["amount"]) == (200, "close", 1234)
    assert [entry["status"] for entry in sandbox.requests("POST", "/v1/payment_intents")] == [200]


def test_a_client_asking_to_close_gets_its_connection_closed(sandbox, stripe_client, connection):
    """Proves: "Connection: close" from the client is honoured and said back."""
    intent = create_intent(stripe_client)

    status, header, _, _ = call(
        connection,
        sandbox,
        "GET",
        f"/v1/payment_intents/{intent.id}",
        headers={"Connection": "close"},
    )

    assert (status, header) == (200, "close")


def test_a_dropped_answer_still_ends_the_connection(sandbox, stripe_client, connection):
    """Proves: the "drop" fault closes the kept-alive connection without a byte of answer, and
    a new connection then works as before."""
    intent = create_intent(stripe_client)
    path = f"/v1/payment_intents/{intent.id}"
    sandbox.arm_fault("drop", path_prefix=path)

    with pytest.raises(http.client.RemoteDisconnected):
        call(connection, sandbox, "GET", path)
    connection.close()

    assert call(connection, sandbox, "GET", path)[0] == 200
