"""Helpers for the payment tests: an app aimed at the session's Stripe sandbox, a customer
who has reached the payment step through the real customer flow, the sandbox's own view of
things (recorded API calls, events), signed webhooks, and a live portal server.

Nothing of the portal is faked: the portal talks to the sandbox over HTTP through the SDK,
and the test plays the customer's browser and Stripe's webhook sender.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.support.capture import answer_identity, create_direct, path_of, press_start, token_of

WEBHOOK_SECRET = "whsec_postern_payment_tests"
#: The portal gives up on one Stripe call after this long (the sandbox's timeout fault holds
#: its answer for longer), then the SDK retries.
CLIENT_TIMEOUT = 1.0


def sandbox_settings(sandbox, **overrides) -> dict:
    return {
        "STRIPE_API_BASE": sandbox.url,
        "STRIPE_JS_URL": sandbox.js_url,
        "STRIPE_SECRET_KEY": sandbox.secret_key,
        "STRIPE_PUBLISHABLE_KEY": sandbox.publishable_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_TIMEOUT_SECONDS": CLIENT_TIMEOUT,
        **overrides,
    }


@dataclass(frozen=True)
class PayingCustomer:
    """A customer's browser (test client) bound to a verified payment request."""

    client: object
    public_id: str
    url: str

    @property
    def token(self) -> str:
        return token_of(self.url)

    @property
    def pay_path(self) -> str:
        return path_of(self.url) + "/pay"


def customer_at_payment(app, agent_id: int, client=None, **spec) -> PayingCustomer:
    """Create a request as ``agent_id`` and walk a customer through Start and the identity
    check, as the real pages do; returns the customer's browser, now at the payment step."""
    client = client or app.test_client()
    public_id, url = create_direct(app, agent_id, **spec)
    assert press_start(client, url).status_code == 303
    if spec.get("identity_item", "postcode"):
        assert answer_identity(client, url, "SW1A 1AA").status_code == 303
    return PayingCustomer(client, public_id, url)


def opened_pay_page(customer: PayingCustomer) -> PayingCustomer:
    """``customer`` after opening the payment page, which creates the PaymentIntent."""
    assert customer.client.get(customer.pay_path).status_code == 200
    return customer


# --- fixtures: tests/functional/conftest.py and tests/unit/payments/conftest.py offer these ---


@pytest.fixture
def pay_app(app_factory, stripe_sandbox):
    """An app aimed at the session's Stripe sandbox."""
    return app_factory(**sandbox_settings(stripe_sandbox))


@pytest.fixture
def customer(pay_app, make_staff) -> PayingCustomer:
    """A customer at the payment step who has not opened the payment page yet (so there is
    no PaymentIntent). A test module wanting one that has can override ``customer`` with
    ``opened_pay_page(customer)``."""
    return customer_at_payment(pay_app, make_staff("agent").id)


def load_payment(app, public_id: str):
    """(request, payment) rows for ``public_id``, detached, for assertions."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment

    with app.app_context():
        request = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        payment = db.session.execute(
            select(Payment).where(Payment.capture_request_id == request.id)
        ).scalar_one_or_none()
        db.session.expunge_all()
        return request, payment


# --- the sandbox, as the test sees it ------------------------------------------------------


def created_intents(sandbox) -> list[dict]:
    """Successful PaymentIntent creations the sandbox carried out (not idempotent replays),
    read from its recorded calls over HTTP (``/_sandbox/requests``)."""
    answer = requests.get(
        f"{sandbox.url}/_sandbox/requests",
        params={"method": "POST", "path": "/v1/payment_intents"},
        timeout=5,
    )
    answer.raise_for_status()
    return [
        call for call in answer.json()["data"] if call["status"] == 200 and not call["replayed"]
    ]


def arm_fault(sandbox, mode: str, count: int = 1, path_prefix: str | None = None) -> None:
    body = {"mode": mode, "count": count}
    if path_prefix:
        body["path_prefix"] = path_prefix
    requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=5).raise_for_status()


def stripe_api(sandbox, method: str, path: str, **data) -> dict:
    """Call the sandbox's API with the secret key, as Stripe's dashboard or another system
    would (and, with ``client_secret``, as the customer's browser does)."""
    answer = requests.request(
        method, f"{sandbox.url}{path}", data=data, auth=(sandbox.secret_key, ""), timeout=5
    )
    return answer.json()


#: Where Stripe.js is told to send the customer after paying (``confirmParams.return_url``);
#: a confirmation made here never redirects anyone, so any web address will do.
BROWSER_RETURN_URL = "https://postern.example/payment-return"


def confirm_in_browser(
    sandbox, intent_id: str, payment_method: str, return_url: str = BROWSER_RETURN_URL
) -> dict:
    """What Stripe.js's ``confirmPayment`` does when the customer presses Pay: confirm with
    the publishable key and the client secret, a ``return_url`` (which Stripe requires when
    redirecting payment methods are allowed) and ``use_stripe_sdk`` (so 3-D Secure is handled
    in the page). A test PaymentMethod (``pm_card_*``) stands in for the typed card."""
    intent = stripe_api(sandbox, "GET", f"/v1/payment_intents/{intent_id}")
    answer = requests.post(
        f"{sandbox.url}/v1/payment_intents/{intent_id}/confirm",
        data={
            "key": sandbox.publishable_key,
            "client_secret": intent["client_secret"],
            "payment_method": payment_method,
            "return_url": return_url,
            "use_stripe_sdk": "true",
        },
        timeout=5,
    )
    return answer.json()


def advance_refunds(sandbox) -> list[dict]:
    """Let time pass at Stripe for the refund test cards: pending refunds of
    ``pm_card_pendingRefund`` succeed, refunds of ``pm_card_refundFail`` fail. Returns the
    refunds changed; each change is announced by events (and webhooks, if configured)."""
    answer = requests.post(f"{sandbox.url}/_sandbox/refunds/advance", timeout=5)
    answer.raise_for_status()
    return answer.json()["data"]


def disputes_of(sandbox, intent_id: str) -> list[dict]:
    """The disputes Stripe holds for ``intent_id`` (``pm_card_createDispute`` opens one)."""
    return stripe_api(sandbox, "GET", "/v1/disputes", payment_intent=intent_id)["data"]


def close_dispute(sandbox, dispute_id: str, outcome: str) -> dict:
    """The card network decides: ``won`` (funds reinstated, then closed) or ``lost``."""
    answer = requests.post(
        f"{sandbox.url}/_sandbox/disputes/{dispute_id}/close",
        json={"outcome": outcome},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def update_dispute(sandbox, dispute_id: str, status: str = "under_review") -> dict:
    """The merchant's evidence is with the card network: ``charge.dispute.updated``."""
    answer = requests.post(
        f"{sandbox.url}/_sandbox/disputes/{dispute_id}/update",
        json={"status": status},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def answer_challenge(sandbox, intent_id: str, *, complete: bool) -> None:
    """The customer's answer on the sandbox's 3-D Secure page."""
    intent = stripe_api(sandbox, "GET", f"/v1/payment_intents/{intent_id}")
    requests.post(
        f"{sandbox.url}/3ds/{intent_id}",
        data={
            "client_secret": intent["client_secret"],
            "outcome": "complete" if complete else "fail",
        },
        headers={"Accept": "application/json"},
        timeout=5,
    ).raise_for_status()


def events_for(sandbox, intent_id: str) -> list[dict]:
    """The sandbox's events about ``intent_id`` (and its charges), oldest first."""
    answer = stripe_api(sandbox, "GET", "/v1/events?limit=100")
    mine = []
    for event in answer["data"]:
        obj = event["data"]["object"]
        if obj.get("id") == intent_id or obj.get("payment_intent") == intent_id:
            mine.append(event)
    return list(reversed(mine))


def event_of_type(sandbox, intent_id: str, event_type: str) -> dict:
    matches = [event for event in events_for(sandbox, intent_id) if event["type"] == event_type]
    assert matches, f"no {event_type} event for {intent_id}"
    return matches[-1]


# --- webhooks ------------------------------------------------------------------------------


def signed(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """(body, headers) exactly as Stripe would POST ``event``."""
    from stripe_sandbox.webhooks import sign

    body = json.dumps(event, indent=2).encode()
    return body, {
        "Stripe-Signature": sign(body, secret, timestamp),
        "Content-Type": "application/json",
    }


def deliver(client, event: dict, **kwargs):
    body, headers = signed(event, **kwargs)
    return client.post("/webhooks/stripe", data=body, headers=headers)


def handle_queued_webhooks(app):
    """Run the webhook worker over everything due now, as ``flask webhooks run-once`` does
    (repeatedly, until nothing is left). Returns the counts of all its batches together."""
    from portal.stripe_events.worker import RunCounts, run_once

    total = RunCounts()
    with app.app_context():
        while True:
            counts = run_once(worker_id="test-webhook-worker")
            if not counts.claimed:
                return total
            for name, value in counts.as_dict().items():
                setattr(total, name, getattr(total, name) + value)


def outcome_of(app, event_id: str) -> str | None:
    """What became of a received event: "queued", "applied", "not_ours", "failed", ..."""
    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent

    with app.app_context():
        return db.session.execute(
            select(ProcessedWebhookEvent.outcome).where(
                ProcessedWebhookEvent.stripe_event_id == event_id
            )
        ).scalar_one_or_none()


def received(client, app, event: dict, **kwargs) -> str:
    """Deliver ``event`` as Stripe would, let the webhook worker handle the queue, and say what
    came of it: the answer's outcome when nothing was queued ("duplicate", "ignored"), else the
    outcome the worker recorded ("applied", "not_ours", ...)."""
    answer = deliver(client, event, **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    said = answer.get_json()["outcome"]
    if said != "queued":
        return said
    handle_queued_webhooks(app)
    return outcome_of(app, event["id"])


@contextmanager
def worker_in_thread(app, name: str, run_batch, poll_seconds: float, stop: threading.Event):
    """A worker's real loop (``portal.workers.work_until_stopped``) in a thread, running
    ``run_batch``; stopped (after the batch in hand) when the block ends."""
    import logging

    from portal.workers import work_until_stopped

    def work():
        with app.app_context():
            work_until_stopped(name, run_batch, stop, poll_seconds, logging.getLogger(name))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@contextmanager
def webhook_worker(app, poll_seconds: float = 0.05):
    """``flask webhooks work``'s loop in a thread, for tests where Stripe's sandbox delivers
    events on its own."""
    from portal.stripe_events.worker import run_once

    batch = lambda: run_once(worker_id="test-webhook-thread")  # noqa: E731
    with worker_in_thread(app, "webhook worker", batch, poll_seconds, threading.Event()):
        yield


# --- a live portal, for the sandbox's webhooks and for browsers ----------------------------


@contextmanager
def live_portal(app):
    """Serve ``app`` on a free loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_for(condition, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
