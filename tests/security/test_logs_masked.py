"""A card number never reaches a log line unmasked.

Three layers: the production log handler masks card numbers however they enter a record
(message, %-arguments, ``extra`` fields, nested values, exception text); requests that carry
card numbers in every place a request can (path, query, headers, form fields, JSON, an
exception) leave none in the app's log; and the whole suite's log (every record of the run, teed
through the production handler by ``tests/conftest.py``, plus the reliability tests' gunicorn
and worker logs) is scanned at the end of the run by ``pytest_sessionfinish``, which fails the
run on any hit. The scan is also a test here, over what has been written so far.
"""

from __future__ import annotations

import io
import json
import logging

from portal.card_numbers import find_pans
from portal.observability.logging import build_handler
from tests.support.artifacts import ARTIFACTS, unmasked_card_numbers_in_logs

PAN = "4111111111111111"
SHAPES = [PAN, "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "378282246310005"]
APP_LOGGERS = ("postern", "portal", "gunicorn.error", "werkzeug")


def _capture(*loggers: str):
    stream = io.StringIO()
    handler = build_handler(True, stream=stream)
    for name in loggers:
        logging.getLogger(name).addHandler(handler)
    return stream, handler


def _release(handler, *loggers: str) -> None:
    for name in loggers:
        logging.getLogger(name).removeHandler(handler)


def test_the_production_handler_masks_card_numbers_wherever_they_are():
    """Proves: the production handler masks card numbers in the message, %-arguments, ``extra``
    fields (nested, or as an integer) and exception text, writing "[REDACTED-PAN]" instead. Each
    record stays one parseable JSON line."""
    log = logging.getLogger("postern.test.masking")
    log.setLevel(logging.INFO)
    stream, handler = _capture("postern.test.masking")
    try:
        for shape in SHAPES:
            log.info("typed %s into a note", shape)
            log.info(f"reference was {shape}")
            log.warning(
                "extra", extra={"reference": shape, "nested": {"a": [shape]}, "n": 4111111111111111}
            )
            try:
                raise ValueError(f"could not parse {shape}")
            except ValueError:
                log.exception("failed")
    finally:
        _release(handler, "postern.test.masking")
    text = stream.getvalue()
    assert text.count("\n") == 4 * len(SHAPES)
    for line in text.splitlines():
        json.loads(line)  # still one parseable JSON object per line
    assert next(find_pans(text), None) is None, text
    assert "[REDACTED-PAN]" in text


def test_requests_carrying_card_numbers_leave_none_in_the_log(app_factory, make_staff):
    """Proves: card numbers in a request's path, query, headers, form fields, JSON body or an
    unhandled exception's text leave none in the app's log, though the requests (access lines) and
    the exception are logged."""
    app = app_factory(RATELIMIT_LOGIN_PER_IP="1000 per minute")

    @app.get("/_test/explode")
    def explode():
        raise RuntimeError(f"customer read out {PAN} on the call")

    stream, handler = _capture(*APP_LOGGERS)
    try:
        client = app.test_client()
        client.get(f"/c/{PAN}")
        client.get(f"/c/4111-1111-1111-1111/start?card={PAN}")
        client.get("/healthz", headers={"X-Request-ID": "4111-1111-1111-1111"})
        client.get("/login", headers={"User-Agent": f"phone {PAN}", "Referer": f"/x?{PAN}"})
        client.post("/login", data={"username": PAN, "password": PAN})
        client.get(f"/agent/api/requests/{PAN}/status")
        client.post(
            "/webhooks/stripe",
            data=json.dumps({"id": "evt_1", "card": PAN}),
            headers={"Stripe-Signature": f"t=1,v1={PAN}", "Content-Type": "application/json"},
        )
        assert client.get("/_test/explode").status_code == 500
    finally:
        _release(handler, *APP_LOGGERS)
    text = stream.getvalue()
    assert "unhandled error" in text  # the exception was logged, with its text
    assert text.count('"logger": "postern.access"') >= 7
    assert next(find_pans(text), None) is None, [
        line for line in text.splitlines() if next(find_pans(line), None)
    ][:3]


def test_the_suite_log_so_far_holds_no_card_numbers():
    """The same scan as the end-of-run check, over what this run has logged up to now."""
    assert list(ARTIFACTS.glob("suite*.log")), "tests/conftest.py is not teeing the suite's log"
    assert unmasked_card_numbers_in_logs() == []
