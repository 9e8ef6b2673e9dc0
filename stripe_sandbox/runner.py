"""Run the sandbox in a background thread of the current process (tests, demos).

server = start_sandbox(webhook_retry_base_seconds=0.05)
client = stripe.StripeClient(server.secret_key, base_addresses={"api": server.url})
...
server.stop()
"""

from __future__ import annotations

import copy
import logging
import socket
import ssl
import threading
from typing import Any

from werkzeug.exceptions import ClientDisconnected, InternalServerError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

from . import disputes, refunds
from .api import EXTENSION, Sandbox
from .app import create_app
from .config import SandboxSettings, is_loopback_host

log = logging.getLogger("stripe_sandbox.http")


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Logs method, path and status; never the query string (it may hold a client secret)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


#: How long a kept-alive connection may sit idle before the sandbox closes it.
KEEP_ALIVE_IDLE_SECONDS = 15.0
#: An unread request body up to this size is skipped so the connection can serve the next
#: request; a larger one (refused with 413 unread) closes the connection instead.
MAX_DRAIN_BYTES = 1024 * 1024
#: Statuses whose answers never carry a body, so never a Content-Length of our making.
_BODYLESS_STATUSES = frozenset({204, 304})


class KeepAliveRequestHandler(PathOnlyRequestHandler):
    """Keeps HTTP/1.1 connections open between requests, as api.stripe.com does.

    werkzeug's own handler closes every connection (it cannot tell where a request body ends
    and the next request begins), so each SDK call paid for a new TCP connection and a new
    server thread, and a client's connection pool never helped. A request whose body length
    is known (all the stripe SDK and Stripe.js send: a Content-Length or no body) is answered
    here: its body is read exactly to that length, the answer goes out with a Content-Length,
    and the connection waits for the next request. Anything else (a chunked body, ``Expect:
    100-continue``) goes through werkzeug's handler and closes, as before.
    """

    protocol_version = "HTTP/1.1"
    timeout = KEEP_ALIVE_IDLE_SECONDS  # socket timeout: idle or stalled connections end

    def setup(self) -> None:
        super().setup()
        # Status line and headers, then the body, are two writes: without TCP_NODELAY the
        # second waits for the client's delayed ACK (tens of ms) on a reused connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        length = self._body_length()
        if length is None:
            self.close_connection = True
            super().run_wsgi()
            return
        environ = self.make_environ()
        body = LimitedStream(self.rfile, length)
        environ["wsgi.input"] = body
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            started.update(status=status, headers=headers)
            return _write_unsupported

        try:
            payload = _run(self.server.app, environ, start_response)
        except (ConnectionError, TimeoutError):
            # The "drop" fault (or the client) ended the exchange: nothing more to say.
            self.close_connection = True
            return
        except Exception:  # what werkzeug's handler does too: log it, answer 500, hang up
            log.exception("unhandled error on %s %s", self.command, self.path.split("?", 1)[0])
            self.close_connection = True
            payload = _run(InternalServerError(), environ, start_response)
        if not self._drained(body):
            self.close_connection = True
        self._send(environ, started["status"], started["headers"], payload)

    def _body_length(self) -> int | None:
        """The request body's length, or None if it can only be found by reading to the end."""
        if "Transfer-Encoding" in self.headers or self.headers.get("Expect"):
            return None
        declared = self.headers.get("Content-Length")
        if declared is None:
            return 0
        return int(declared) if declared.isdigit() else None

    @staticmethod
    def _drained(body: LimitedStream) -> bool:
        """Skip what the app left unread of the body; False if it is too big to skip."""
        if body.limit - body.tell() > MAX_DRAIN_BYTES:
            return False
        try:
            body.exhaust()
        except (OSError, ClientDisconnected):  # the client went away mid-body
            return False
        return True

    def _send(self, environ: dict[str, Any], status: str, headers: list, payload: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        names = set()
        for name, value in headers:
            self.send_header(name, value)
            names.add(name.lower())
        if "content-length" not in names and int(code) not in _BODYLESS_STATUSES:
            if environ["REQUEST_METHOD"] == "HEAD":
                self.close_connection = True  # the length of a body never sent is unknown
            else:
                self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if environ["REQUEST_METHOD"] != "HEAD" and payload:
            self.wfile.write(payload)

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            return  # an idle kept-alive connection reaching its timeout is not an error
        super().log_error(format, *args)


def _run(app: Any, environ: dict[str, Any], start_response: Any) -> bytes:
    """Call a WSGI app and collect its whole answer (the sandbox's answers are small)."""
    answer = app(environ, start_response)
    try:
        return b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()


def _write_unsupported(data: bytes) -> None:
    raise RuntimeError("the sandbox's views return their bodies; write() is not supported")


def build_server(
    host: str,
    port: int,
    settings: SandboxSettings,
    *,
    allow_remote: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> BaseWSGIServer:
    """A threaded werkzeug server for a new sandbox, keeping connections alive between
    requests; refuses non-loopback hosts by default. With ``ssl_context`` it speaks HTTPS, as
    api.stripe.com and js.stripe.com do."""
    if not is_loopback_host(host) and not allow_remote:
        raise ValueError(
            f"refusing to listen on {host}: not a loopback address (pass allow_remote to override)"
        )
    return make_server(
        host,
        port,
        create_app(settings),
        threaded=True,
        request_handler=KeepAliveRequestHandler,
        ssl_context=ssl_context,
    )


def server_url(server: BaseWSGIServer) -> str:
    host = server.server_address[0]
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if server.ssl_context else "http"
    return f"{scheme}://{host}:{server.server_port}"


class SandboxServer:
    """A sandbox serving in a daemon thread, with helpers for tests."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self._server = server
        self.url = server_url(server)
        # A short poll interval keeps stop() quick; the server is otherwise idle-cheap.
        self._thread = threading.Thread(
            target=server.serve_forever,
            name="stripe-sandbox",
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()

    @property
    def sandbox(self) -> Sandbox:
        return self._server.app.extensions[EXTENSION]  # type: ignore[attr-defined]

    @property
    def secret_key(self) -> str:
        return self.sandbox.settings.secret_key

    @property
    def publishable_key(self) -> str:
        return self.sandbox.settings.publishable_key

    @property
    def js_url(self) -> str:
        """The Stripe.js URL to configure, like ``https://js.stripe.com/v3/``."""
        return f"{self.url}/v3/"

    def set_webhook(self, url: str | None, secret: str | None = None) -> None:
        """Deliver events to ``url`` signed with ``secret``; ``None`` switches delivery off."""
        self.sandbox.webhooks.configure(url, secret)

    def reset(self) -> None:
        self.sandbox.reset()

    def arm_fault(
        self,
        mode: str,
        count: int = 1,
        path_prefix: str | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        self.sandbox.faults.arm(mode, count, path_prefix, timeout_seconds)

    def clear_faults(self) -> None:
        self.sandbox.faults.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Recorded /v1/ calls, oldest first, optionally filtered by method and exact path."""
        store = self.sandbox.store
        with store.lock:
            return [
                dict(entry)
                for entry in store.requests
                if (method is None or entry["method"] == method.upper())
                and (path is None or entry["path"] == path)
            ]

    def advance_refunds(self) -> list[dict[str, Any]]:
        """What ``POST /_sandbox/refunds/advance`` does: the refunds it changed."""
        return refunds.advance(self.sandbox)

    def close_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        """Close a dispute as ``won`` or ``lost`` (``/_sandbox/disputes/<id>/close``)."""
        return self._change_dispute(dispute_id, disputes.close, outcome)

    def update_dispute(self, dispute_id: str, status: str) -> dict[str, Any]:
        """Move a dispute to ``under_review`` (``/_sandbox/disputes/<id>/update``)."""
        return self._change_dispute(dispute_id, disputes.update, status)

    def _change_dispute(self, dispute_id: str, change: Any, value: str) -> dict[str, Any]:
        sandbox = self.sandbox
        with sandbox.store.lock:
            dispute = sandbox.store.disputes.get(dispute_id)
            if dispute is None:
                raise KeyError(f"no such dispute: {dispute_id}")
            return copy.deepcopy(change(sandbox, dispute, value))

    def list_disputes(self, payment_intent: str | None = None) -> list[dict[str, Any]]:
        """Every dispute, oldest first, optionally of one PaymentIntent."""
        with self.sandbox.store.lock:
            return [
                copy.deepcopy(dispute)
                for dispute in self.sandbox.store.disputes.values()
                if payment_intent is None or dispute["payment_intent"] == payment_intent
            ]

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self.sandbox.webhooks.deliveries()

    def stop(self) -> None:
        self.sandbox.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    **settings: Any,
) -> SandboxServer:
    """Start a sandbox on ``host:port`` (0 picks a free port); ``settings`` are
    :class:`SandboxSettings` fields (secret_key, webhook_url, fault_timeout_seconds...)."""
    server = build_server(
        host, port, SandboxSettings(**settings), allow_remote=allow_remote, ssl_context=ssl_context
    )
    return SandboxServer(server)
