"""Request rate and latency, by route pattern, method and status.

The route label is the URL rule that matched (``/c/<token>``), never the path requested, so a
link token, a public id or a search term never becomes a label; a request that matched no rule
is counted under "unmatched". The time is measured around the WSGI call until it returns its
response, so what the rate limiter or CSRF check refused before any view ran is timed and
counted too; a streamed body (the CSV export) is timed to its first byte, and counted with the
status it started with.
"""

from __future__ import annotations

import time

from flask import Flask, request

from portal.observability.metrics import count_request

#: The WSGI environ key where the matched rule is left for the middleware to read.
_ROUTE_KEY = "postern.metrics.route"
UNMATCHED = "unmatched"


def init_request_metrics(app: Flask) -> None:
    """Call last in ``create_app``: the timer should wrap every other middleware."""

    @app.after_request
    def _remember_route(response):
        rule = request.url_rule
        request.environ[_ROUTE_KEY] = rule.rule if rule is not None else UNMATCHED
        return response

    inner = app.wsgi_app

    def timed(environ, start_response):
        started = time.perf_counter()
        answered = {}

        def start(status, headers, *exc_info):
            answered["status"] = status
            return start_response(status, headers, *exc_info)

        try:
            return inner(environ, start)
        finally:
            status = answered.get("status", "500")
            count_request(
                environ.get(_ROUTE_KEY, UNMATCHED),
                environ.get("REQUEST_METHOD", ""),
                int(status.split(" ", 1)[0]),
                time.perf_counter() - started,
            )

    app.wsgi_app = timed
