"""Run the sandbox in a background thread of the current process (tests, demos).

server = start_sandbox(webhook_retry_base_seconds=0.05)
client = stripe.StripeClient(server.secret_key, base_addresses={"api": server.url})
...
server.stop()
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .api import EXTENSION, Sandbox
from .app import create_app
from .config import SandboxSettings, is_loopback_host

log = logging.getLogger("stripe_sandbox.http")


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Logs method, path and status; never the query string (it may hold a client secret)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, self.path.split("?", 1)[0], code)


def build_server(
    host: str, port: int, settings: SandboxSettings, *, allow_remote: bool = False
) -> BaseWSGIServer:
    """A threaded werkzeug server for a new sandbox; refuses non-loopback hosts by default."""
    if not is_loopback_host(host) and not allow_remote:
        raise ValueError(
            f"refusing to listen on {host}: not a loopback address (pass allow_remote to override)"
        )
    return make_server(
        host, port, create_app(settings), threaded=True, request_handler=PathOnlyRequestHandler
    )


def server_url(server: BaseWSGIServer) -> str:
    host = server.server_address[0]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{server.server_port}"


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
    host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False, **settings: Any
) -> SandboxServer:
    """Start a sandbox on ``host:port`` (0 picks a free port); ``settings`` are
    :class:`SandboxSettings` fields (secret_key, webhook_url, fault_timeout_seconds...)."""
    return SandboxServer(
        build_server(host, port, SandboxSettings(**settings), allow_remote=allow_remote)
    )
