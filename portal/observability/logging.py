"""Structured JSON logs with a request id, every line passed through the redaction filter.

Access lines are written by the app, not by gunicorn, so that they carry the route *pattern*
(``/c/<token>``) instead of the path, and never a query string or a link token.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time

from flask import Flask, g, request
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from portal.security.redaction import FILTERED_MARK, RedactionFilter, redact_text, redact_value
from portal.security.sessions import BACKGROUND_HEADER

_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-]{8,64}$")
access_log = logging.getLogger("postern.access")
#: The agent console's live-status polls (every 1.5 s per open console): one INFO line each
#: would drown every other line. Answered normally (200 or 304) they are logged at DEBUG; an
#: error is still an INFO line, and the request metrics count every poll either way.
QUIET_POLL_ENDPOINTS = frozenset({"agent.api_requests", "agent.api_status"})
_QUIET_POLL_STATUSES = frozenset({200, 304})


def access_level(endpoint: str | None, status: int, poll_header: str | None) -> int:
    """The level of a request's access line: DEBUG for a console poll answered normally (the
    endpoint and the header must both say so: a header alone hides nothing), INFO otherwise."""
    if (
        poll_header == "poll"
        and endpoint in QUIET_POLL_ENDPOINTS
        and status in _QUIET_POLL_STATUSES
    ):
        return logging.DEBUG
    return logging.INFO


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


#: Methods whose name may go into the direct access line as it is (any other takes the
#: redacting path: a method is a client-chosen token).
_PLAIN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: A run of digits long enough to be a card number: such a request id takes the redacting path.
_LONG_DIGITS = re.compile(r"\d{12,}")


def _write_access_line(level: int, fields: dict, request_id: str) -> bool:
    """Write the access line straight to the JSON handler's stream, as the logging machinery
    would write it, byte for byte; False (write nothing) whenever that is not certain to be
    the same line: another handler or filter is listening, the format is not JSON, or a field
    came from the client in a shape the redaction filter might rewrite. Every field is then a
    route pattern, an endpoint name, a number or a checked request id: nothing to redact, so
    the record, filter and formatter passes (a quarter of a poll's overhead) are skipped."""
    if not access_log.isEnabledFor(level) or access_log.handlers or not access_log.propagate:
        return False
    parent = access_log.parent
    handlers = parent.handlers if parent is not None and not parent.propagate else ()
    if len(handlers) != 1:
        return False
    handler = handlers[0]
    formatter = handler.formatter
    if (
        not getattr(handler, "_postern", False)
        or type(formatter) is not RedactingJsonFormatter
        or level < handler.level
        or len(handler.filters) != 2
        or not isinstance(handler, logging.StreamHandler)
        or fields["method"] not in _PLAIN_METHODS
        or _LONG_DIGITS.search(request_id)
    ):
        return False
    created = time.time()
    stamp = time.strftime(formatter.default_time_format, formatter.converter(created))
    line = {
        "time": formatter.default_msec_format % (stamp, (created - int(created)) * 1000),
        "level": logging.getLevelName(level),
        "logger": access_log.name,
        "message": f"request {fields['method']} {fields['route']} {fields['status']}",
        "request_id": request_id or None,
        **fields,
    }
    text = json.dumps(line) + handler.terminator
    with handler.lock:
        handler.stream.write(text)
        handler.flush()
    return True


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
        level = access_level(
            request.endpoint, response.status_code, request.headers.get(BACKGROUND_HEADER)
        )
        if _write_access_line(level, fields, g.get("request_id", "")):
            return response
        access_log.log(
            level,
            "request %s %s %s",
            fields["method"],
            fields["route"],
            fields["status"],
            extra=fields,
        )
        return response
