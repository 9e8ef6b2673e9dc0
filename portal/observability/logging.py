"""Structured JSON logs with a request id, every line passed through the redaction filter.

Access lines are written by the app, not by gunicorn, so that they carry the route *pattern*
(``/c/<token>``) instead of the path, and never a query string or a link token.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time

from flask import Flask, g, request
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from portal.security.redaction import FILTERED_MARK, RedactionFilter, redact_text, redact_value

_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-]{8,64}$")
access_log = logging.getLogger("postern.access")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record made while a request is being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        record.request_id = g.get("request_id") if has_request_context() else None
        return True


#: Fields the JSON formatter renders from the record itself, after every filter has run.
_FORMATTED_LATE = ("exc_info", "stack_info")


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines; a last redaction pass catches anything formatted late (exception text).

    The pass runs over the fields, not over the finished line: rewriting serialised JSON as text
    can swallow a closing quote and leave a line no log pipeline can parse. On a record the
    ``RedactionFilter`` has already rewritten, only the fields formatted late are redacted again
    (every request writes an access line: a second pass over all of it was a measurable share
    of a request's cost); any other record gets the whole pass.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, FILTERED_MARK])
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        already = getattr(record, FILTERED_MARK, False)
        keys = [k for k in log_data if not already or k in _FORMATTED_LATE]
        log_data.update(redact_value({key: log_data[key] for key in keys}))


class RedactingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def build_handler(json_lines: bool, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactionFilter())
    if json_lines:
        handler.setFormatter(
            RedactingJsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            RedactingTextFormatter(
                "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
            )
        )
    return handler


def init_logging(app: Flask) -> None:
    """Route Postern's loggers through one redacting handler and log each request once."""
    handler = build_handler(app.config["LOG_JSON"])
    for name in ("postern", "portal", "gunicorn.error", "werkzeug"):
        logger = logging.getLogger(name)
        # Replace, not add: create_app runs many times in one test process.
        logger.handlers = [h for h in logger.handlers if not getattr(h, "_postern", False)]
        handler._postern = True
        logger.addHandler(handler)
        logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
        logger.propagate = False
    # Werkzeug's dev-server access line contains the raw path (and so link tokens): silence it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("request_started")
        fields = {
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else "<unmatched>",
            "endpoint": request.endpoint,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        }
        # The message repeats the essentials so the plain-text development format shows them.
        access_log.info(
            "request %s %s %s", fields["method"], fields["route"], fields["status"], extra=fields
        )
        return response
