"""gunicorn settings for Postern: ``gunicorn -c config/gunicorn.conf.py wsgi:app``.

Access logging is off here on purpose: the app writes its own access line with the route
pattern (``/c/<token>``), never the raw path or query string, so link tokens stay out of logs.
"""

import multiprocessing
import os

bind = os.environ.get("POSTERN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("POSTERN_WORKERS", max(2, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("POSTERN_THREADS", 4))
# Connections one worker holds at once, busy or kept alive. gunicorn's default (1,000) lets the
# worker that wakes first accept every connection a proxy or client opens, even with all its
# threads busy, and a box then serves on one core (benoitc/gunicorn#2817). Capped, a full
# worker stops accepting and the next connection goes to another worker; up to
# worker_connections - threads of its connections are kept alive, beyond that one closes after
# its answer (the proxy opens another). docs/scaling.md, "Spreading connections".
worker_connections = int(os.environ.get("POSTERN_WORKER_CONNECTIONS", threads * 2))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = 5000
max_requests_jitter = 500
# Request size limits (the app limits bodies itself with MAX_CONTENT_LENGTH).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None
errorlog = "-"
loglevel = os.environ.get("POSTERN_LOG_LEVEL", "info").lower()
# Only trust X-Forwarded-* from the proxy in front of us (set POSTERN_FORWARDED_ALLOW_IPS).
forwarded_allow_ips = os.environ.get("POSTERN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# TLS on gunicorn itself, for a deployment with no proxy in front (POSTERN_PROXY_HOPS=0).
# Behind a TLS-terminating proxy (config/nginx/postern.conf.template) leave both unset.
certfile = os.environ.get("POSTERN_TLS_CERT") or None
keyfile = os.environ.get("POSTERN_TLS_KEY") or None
# Load the app in each worker, after fork: database pools are never shared across processes.
preload_app = False

# Metrics (docs/metrics.md). Each worker counts requests in its own memory unless
# PROMETHEUS_MULTIPROC_DIR names a directory where every worker writes its counters, which
# /metrics then adds up. It must be set before any worker imports the app, and hold nothing
# from an earlier run (a dead run's counters would be added in): so each start of the server
# gets a fresh, private directory, removed again when the server stops.
_METRICS_DIR_CREATED = []


def on_starting(server):
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        # An operator's own directory (e.g. on tmpfs): emptied of the last run's files.
        os.makedirs(given, mode=0o700, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.remove(os.path.join(given, name))
    else:
        base = os.environ.get("POSTERN_METRICS_DIR_BASE") or None
        created = tempfile.mkdtemp(prefix="postern-metrics-", dir=base)
        _METRICS_DIR_CREATED.append(created)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = created
    server.log.info("metrics: counters in %s", os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    # A worker that exited keeps its counters (they still count), but its live gauges go.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    import shutil

    for created in _METRICS_DIR_CREATED:
        shutil.rmtree(created, ignore_errors=True)
