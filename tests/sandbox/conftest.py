"""Fixtures for the Stripe sandbox's own tests: one sandbox per session, reset before each test,
driven over HTTP by the real stripe SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from stripe_sandbox import SandboxServer, start_sandbox

from .helpers import FAULT_TIMEOUT, make_client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the test item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox(
        fault_timeout_seconds=FAULT_TIMEOUT,
        webhook_retry_base_seconds=0.02,
        webhook_retry_max_seconds=0.2,
        webhook_max_attempts=5,
        webhook_timeout_seconds=2,
    )
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_sandbox(request: pytest.FixtureRequest) -> None:
    """Every test starts from an empty sandbox with no webhook endpoint and no faults."""
    if "sandbox" in request.fixturenames:
        server = request.getfixturevalue("sandbox")
        server.set_webhook(None)
        server.reset()


@pytest.fixture
def stripe_client(sandbox: SandboxServer) -> stripe.StripeClient:
    return make_client(sandbox)


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[requests.Session]:
    """Plain HTTP against the sandbox, for what the SDK will not send (no key, bad bodies)."""
    with requests.Session() as session:
        yield session


@dataclass
class Receiver:
    """A tiny webhook endpoint: records every POST; answers ``fail_first`` of them with 500."""

    url: str = ""
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        incoming = Request(environ)
        with self.lock:
            number = len(self.received)
            self.received.append({"body": incoming.get_data(), "headers": dict(incoming.headers)})
        status = 500 if number < self.fail_first else 200
        return Response("ok", status=status)(environ, start_response)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [entry["body"] for entry in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    server = make_server("127.0.0.1", 0, endpoint, threaded=True)
    endpoint.url = f"http://127.0.0.1:{server.server_port}/webhooks/stripe"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield endpoint
    server.shutdown()
    server.server_close()
