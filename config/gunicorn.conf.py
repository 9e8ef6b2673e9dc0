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
