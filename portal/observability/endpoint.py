"""``GET /metrics``: Prometheus's scrape endpoint. Never public.

- No token configured (``METRICS_TOKEN``): 404, as if there were no such page.
- A client outside ``METRICS_ALLOWED_NETWORKS`` (when listed): 404 as well.
- Otherwise the request must bear ``Authorization: Bearer <token>``, compared in constant
  time; without it, 401. Failed attempts are rate-limited per client address.

The answer sets no cookie and loads no staff session (``portal.create_app`` skips it), and is
never cached. Under gunicorn it reports every worker's counters (``PROMETHEUS_MULTIPROC_DIR``,
config/gunicorn.conf.py); elsewhere this process's. The database gauges are read for each
scrape (``portal.observability.collector``).
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from portal.extensions import limiter, talisman
from portal.observability.collector import DatabaseCollector
from portal.observability.metrics import EVENTS

bp = Blueprint("metrics", __name__)

#: The environment variable prometheus_client reads (set before the workers start).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: ``app.extensions`` key: the allowed networks, parsed once.
_NETWORKS = "postern.metrics_networks"


def _only_failures(response) -> bool:
    return response.status_code == 401


# Like the probes, answered over plain HTTP too: Prometheus scrapes each instance directly on
# the private network (the proxy refuses /metrics from outside it: config/nginx/).
@bp.get("/metrics")
@talisman(force_https=False)
@limiter.limit("20 per minute", deduct_when=_only_failures)
def metrics():
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token or not _client_allowed(current_app.extensions[_NETWORKS]):
        abort(404)
    if not _bears(token):
        return Response(
            "a bearer token is required\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            mimetype="text/plain",
        )
    return Response(
        render(current_app), headers={"Cache-Control": "no-store"}, content_type=CONTENT_TYPE_LATEST
    )


def _bears(token: str) -> bool:
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(offered.strip().encode(), token.encode())


def _client_allowed(networks: tuple) -> bool:
    """True when no networks are listed, or the client's address is in one of them. The
    address is the one ProxyFix settled on (the proxy's view of the client when trusted)."""
    if not networks:
        return True
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(client in network for network in networks)


class _ThisProcess(Collector):
    """This process's counters, when there is no multiprocess directory."""

    def collect(self):
        return EVENTS.collect()


def render(app: Flask) -> bytes:
    """The exposition text: every process's counters, then the database gauges. Run within an
    app context."""
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector(app))
    return generate_latest(registry)


def init_metrics(app: Flask) -> None:
    """Serve ``/metrics`` and count requests. Call last in ``create_app``. Raises ValueError
    for an entry of ``METRICS_ALLOWED_NETWORKS`` that is not an address or network."""
    from portal.observability.http import init_request_metrics

    listed = app.config.get("METRICS_ALLOWED_NETWORKS") or []
    app.extensions[_NETWORKS] = tuple(ipaddress.ip_network(n, strict=False) for n in listed)
    app.register_blueprint(bp)
    init_request_metrics(app)
