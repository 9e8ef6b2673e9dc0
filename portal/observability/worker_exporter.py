"""A background worker's own scrape endpoint (``flask outbox work``, ``flask webhooks work``).

What a worker counts (links delivered, payments and refunds learned from Stripe's events)
happens in its own process, which no web worker's /metrics can see. So a worker started with
``POSTERN_METRICS_WORKER_PORT`` serves its counters on that port, in a thread, under the same
rules as /metrics: nothing without ``METRICS_TOKEN`` (not even the port), the bearer token
compared in constant time, and ``METRICS_ALLOWED_NETWORKS`` when listed. It binds to
``POSTERN_METRICS_WORKER_HOST`` (loopback unless told otherwise). The database gauges are not
repeated here: /metrics has them.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from portal.observability.metrics import EVENTS

log = logging.getLogger("postern.observability.metrics")


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # the request line carries nothing worth keeping
        pass


def exporter_app(token: str, networks: tuple):
    """The WSGI app: GET /metrics with the bearer token; everything else 404."""

    def answer(start_response, status: str, body: bytes, content_type="text/plain") -> list:
        headers = [("Content-Type", content_type), ("Cache-Control", "no-store")]
        if status.startswith("401"):
            headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
        start_response(status, headers)
        return [body]

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
            return answer(start_response, "404 Not Found", b"not found\n")
        if networks and not _in(environ.get("REMOTE_ADDR", ""), networks):
            return answer(start_response, "404 Not Found", b"not found\n")
        scheme, _, offered = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            offered.strip().encode(), token.encode()
        ):
            return answer(start_response, "401 Unauthorized", b"a bearer token is required\n")
        return answer(start_response, "200 OK", generate_latest(EVENTS), CONTENT_TYPE_LATEST)

    return app


def _in(address: str, networks: tuple) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in network for network in networks)


def start_worker_exporter(app: Flask, name: str) -> WSGIServer | None:
    """Serve this process's counters if a port and a token are configured; returns the server
    (stopped with ``shutdown()``), or None when nothing was started."""
    port, token = int(app.config.get("METRICS_WORKER_PORT") or 0), app.config.get("METRICS_TOKEN")
    if not port or not token:
        return None
    networks = tuple(
        ipaddress.ip_network(n, strict=False)
        for n in app.config.get("METRICS_ALLOWED_NETWORKS") or []
    )
    host = app.config.get("METRICS_WORKER_HOST") or "127.0.0.1"
    server = make_server(host, port, exporter_app(token, networks), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name=f"{name} metrics", daemon=True)
    thread.start()
    log.info("%s: metrics on %s:%s/metrics", name, host, server.server_port)
    return server
