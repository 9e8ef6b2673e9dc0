"""Helpers shared by the sandbox tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripe_sandbox import SandboxServer

WEBHOOK_SECRET = "whsec_sandbox_tests"
#: The sandbox holds a "timeout" answer this long; clients in tests give up after CLIENT_TIMEOUT.
#: The client's timeout applies to every answer, so it leaves room for a loaded machine (a 429
#: once took over 0.5 s on a busy CI run), and the held answer stays well beyond it.
FAULT_TIMEOUT = 4.0
CLIENT_TIMEOUT = 1.5


def make_client(
    server: SandboxServer, *, key: str | None = None, retries: int = 0, timeout: float = 10
) -> stripe.StripeClient:
    """A StripeClient aimed at the sandbox exactly as the portal configures one."""
    return stripe.StripeClient(
        key or server.secret_key,
        base_addresses={"api": server.url, "connect": server.url, "files": server.url},
        stripe_version=stripe.api_version,
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def create_intent(client: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    """A £25 card-only intent, as Postern makes them (``payment_method_types=[card]``, so no
    ``return_url`` is needed to confirm), unless ``automatic_payment_methods`` is given."""
    if "automatic_payment_methods" not in params and "payment_method_types" not in params:
        params["payment_method_types"] = ["card"]
    return client.v1.payment_intents.create(params={"amount": 2500, "currency": "gbp", **params})


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)
