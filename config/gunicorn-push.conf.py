"""gunicorn settings for Postern's push service: ``gunicorn -c config/gunicorn-push.conf.py
wsgi:app``, beside the app's own gunicorn (config/gunicorn.conf.py), on its own port.

It serves one route, the agent console's stream (``/agent/api/stream``: Server-Sent Events,
``portal.live_push``); the proxy sends only that path here (config/nginx/postern.conf.template).
A stream lives as long as the agent's session, so this service is shaped for many long, quiet
connections instead of many short requests:

- gthread workers with many threads: a stream spends its life blocked on a condition variable,
  holds no database connection between events (one LISTEN connection per worker fans out), and
  costs one small thread. Threads keep psycopg, SQLAlchemy and redis exactly as the app's own
  workers run them: gevent would need all three monkey-patched, for no gain at these numbers
  (bench/README.md: streams per box, latency from a customer action to the agent's screen);
- ``worker_connections`` equal to ``threads``: a worker whose threads all hold streams stops
  accepting, so the next stream waits in the listen queue for a worker with a free thread
  instead of inside a full one (the kernel, not gunicorn, picks which worker accepts: with
  more connections than threads, a few streams once sat unanswered in one worker while the
  other had threads to spare); and so no keep-alive (streams are never reused anyway);
- no ``max_requests`` recycling: a stream is one request, and recycling would drop them all;
- a short ``graceful_timeout``: a stream never finishes by itself, and a dropped one costs a
  poll and a reconnect in the console.

Capacity per box = workers x threads (docs/scaling.md). POSTERN_PUSH_SERVICE=1 tells the app
it is the push service: elsewhere the stream route answers 503 and consoles poll.
"""

import os
import threading

os.environ["POSTERN_PUSH_SERVICE"] = "1"

bind = os.environ.get("POSTERN_PUSH_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("POSTERN_PUSH_WORKERS", 2))
worker_class = "gthread"
threads = int(os.environ.get("POSTERN_PUSH_THREADS", 1000))
worker_connections = threads
timeout = 30
graceful_timeout = 5
keepalive = 0
max_requests = 0
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None  # the app writes its own access line, without paths or query strings
errorlog = "-"
loglevel = os.environ.get("POSTERN_LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("POSTERN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
preload_app = False
#: Each thread's stack: a stream's call depth is shallow, and a thousand default 8 MiB
#: reservations would be 8 GiB of address space per worker.
THREAD_STACK_BYTES = 1024 * 1024


def post_fork(server, worker):
    threading.stack_size(THREAD_STACK_BYTES)
