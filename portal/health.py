"""Liveness and readiness probes: no authentication, nothing sensitive.

Load balancers probe over plain HTTP, often straight at gunicorn by IP address. So the probes
are never redirected to HTTPS and answer whatever Host they are sent: their answers are fixed
JSON that names no host and builds no URL, which is what the redirect and the host check
protect elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from sqlalchemy import false, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from portal.errors import is_read_only
from portal.extensions import db, limiter, talisman
from portal.models.staff import StaffSession

bp = Blueprint("health", __name__)

PROBE_PATHS = frozenset({"/healthz", "/readyz"})
#: Answered whatever Host they are sent, like the probes: Prometheus scrapes each instance at
#: its own address. /metrics builds no URL either (portal.observability.endpoint).
ANY_HOST_PATHS = PROBE_PATHS | {"/metrics"}

#: A write that changes nothing but needs a writable database: a read-only SQLite file or a
#: read-only PostgreSQL (a hot standby, ``default_transaction_read_only``) refuse it while a
#: SELECT still succeeds. On the sessions table because every staff request may write there, so
#: the application's database account can.
NO_OP_WRITE = (
    update(StaffSession.__table__).where(false()).values(end_reason=StaffSession.end_reason)
)


# Flask-Talisman fills a view's other options in from the first app that serves it; they are
# the same for every app (config/csp.py), and force_https is set here, so nothing app-specific
# sticks to these shared views.
# Never rate-limited: a load balancer probing every few seconds must not be told 429 and take
# a healthy instance out of service.
@bp.get("/healthz")
@talisman(force_https=False)
@limiter.exempt
def healthz():
    """The process is alive and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
@talisman(force_https=False)
@limiter.exempt
def readyz():
    """The database answers and accepts writes; while it does not, a load balancer sends no
    traffic here (503, and ``database`` says "unreachable" or "read_only")."""
    state = database_state()
    if state != "ok":
        return jsonify(status="unavailable", database=state), 503
    return jsonify(status="ready", database="ok")


def database_state() -> str:
    """Return "ok", "unreachable" or "read_only"; writes nothing, leaves no transaction open."""
    try:
        try:
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return "unreachable"
        try:
            db.session.execute(NO_OP_WRITE)
        except DBAPIError as refused:
            if is_read_only(refused):
                return "read_only"
            raise  # not an outage (a missing table?): the error pages report and log it
        return "ok"
    finally:
        db.session.rollback()


def init_probes(app: Flask) -> None:
    """Answer the probes whatever Host they name, when ``TRUSTED_HOSTS`` limits the others.

    A load balancer probing gunicorn directly sends the instance's address as its Host, which
    Flask would refuse with a 400. For the probe paths alone (and /metrics, which Prometheus
    scrapes the same way), the Host is replaced by the first trusted name before Flask checks
    it; every other path keeps the check.
    """
    trusted = app.config.get("TRUSTED_HOSTS")
    if not trusted:
        return
    # ".example.com" trusts example.com and its subdomains: the bare name is trusted too.
    host, inner = trusted[0].lstrip("."), app.wsgi_app

    def probes_answer_any_host(environ, start_response):
        if environ.get("PATH_INFO") in ANY_HOST_PATHS:
            environ["HTTP_HOST"] = host
        return inner(environ, start_response)

    app.wsgi_app = probes_answer_any_host
