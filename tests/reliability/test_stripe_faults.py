"""Stripe misbehaves (timeouts, 500s, 429s, dropped connections), injected through the sandbox,
while customers pay on the production-like stack (nginx, gunicorn with production settings,
PostgreSQL, Redis, both workers). The payment page's every call reuses one idempotency key, so
there is never a second PaymentIntent nor a second charge, and when the faults outlast the SDK's
retries the customer is told plainly that nothing was taken and the link still works; trying
again later carries on with the same PaymentIntent.

Production's STRIPE_TIMEOUT_SECONDS (10 s) is kept, so a timeout costs ten seconds per call: it
is met once per payment (absorbed by the SDK's retry, the call carried out and its answer
lost). Faults that outlast the retries use "drop", which has that same effect at Stripe without
the wait, as well as "500" and "429", which Stripe refuses before acting.

The webhook worker is paused (SIGSTOP, once it has nothing to do) while a fault is armed: the
sandbox aims faults by path only, and the worker's own re-fetch of a PaymentIntent could take a
fault meant for the payment page. It handles its queue once it goes on (SIGCONT), and the payment
must still be recorded once. The module's
stack has its rate limits lifted (every simulated browser shares 127.0.0.1); nothing else
differs from production.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from portal.payments.gateway import MAX_NETWORK_RETRIES
from portal.payments.messages import PROVIDER_UNAVAILABLE
from tests.reliability.stack_payments import (
    charges_for,
    customer_at_payment,
    intent_on_page,
    intents_made_for,
    pay_in_browser,
    wait_for_webhooks_handled,
)
from tests.reliability.stack_support import (
    add_agent,
    audit_counts,
    audit_verify,
    pause,
    resume,
)
from tests.reliability.support import record_fault

pytestmark = [pytest.mark.reliability, pytest.mark.prodlike]
#: The SDK makes 1 call + its retries; this many faults outlast them all.
OUTLASTING = 1 + MAX_NETWORK_RETRIES
REFUSED_OR_LOST = ["500", "429", "drop"]


@pytest.fixture(scope="module")
def agent_id(fault_stack) -> int:
    return add_agent(fault_stack, "payagent")


@pytest.fixture
def paused_webhooks(stack):
    """The stack with its webhook worker paused for the test (Stripe's events queue up in the
    inbox), then going on and left to handle everything queued."""
    wait_for_webhooks_handled(stack)
    pause(stack, "webhooks-worker")
    paused = [True]
    yield paused
    stack.sandbox.clear_faults()
    if paused[0]:
        resume(stack, "webhooks-worker")
    wait_for_webhooks_handled(stack)


@pytest.fixture
def customer(stack, agent_id, paused_webhooks):
    return customer_at_payment(stack, agent_id)


def _payment(stack, public_id: str):
    """(request status, payment status, PaymentIntent id) of our rows; None before a payment."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment

    with stack.app().app_context():
        row = db.session.execute(
            select(CaptureRequest.status, Payment.status, Payment.stripe_payment_intent_id)
            .join(Payment, Payment.capture_request_id == CaptureRequest.id)
            .where(CaptureRequest.public_id == public_id)
        ).one_or_none()
        db.session.remove()
        return None if row is None else tuple(row)


def _unavailable_page(answer) -> bool:
    text = html.unescape(answer.text)
    return (
        answer.status_code == 503
        and "Card payments are not available right now" in text
        and PROVIDER_UNAVAILABLE in text
    )


def _pay_and_settle(stack, customer, client_secret: str) -> tuple[int, int]:
    """The customer pays; the page learns it; once the webhook worker is back (the fixture's
    teardown) nothing changes it. Returns (PaymentIntents made, successful charges)."""
    assert pay_in_browser(stack, client_secret)["status"] == "succeeded"
    status = customer.session.get(customer.pay_url + "/status", timeout=30)
    assert status.status_code == 200 and status.json()["state"] == "succeeded", status.text
    assert _payment(stack, customer.public_id)[:2] == ("succeeded", "succeeded")
    return len(intents_made_for(stack, customer.public_id)), len(
        charges_for(stack, customer.public_id)
    )


def _settled_once(stack, public_id: str, paused: list) -> int:
    """After the webhook worker has handled every event: the payment is still recorded once.
    Returns how many audit rows were written twice (0)."""
    resume(stack, "webhooks-worker")
    paused[0] = False
    wait_for_webhooks_handled(stack)
    assert _payment(stack, public_id)[:2] == ("succeeded", "succeeded")
    audited = audit_counts(stack, {public_id})
    assert audited[(public_id, "payment.succeeded")] == 1, audited
    return sum(count - 1 for count in audited.values() if count > 1)


@pytest.mark.parametrize("fault", REFUSED_OR_LOST)
def test_faults_while_the_page_creates_the_intent_never_make_a_second_one(
    fault, customer, stack, paused_webhooks
):
    """Proves, per fault: faults that outlast the SDK's retries show the customer a clear 503
    saying nothing was taken; one fault is absorbed by the retry (a 429, which Stripe's SDK
    does not retry, is shown as the same 503 and the customer's reload carries on); every
    create call carried the same idempotency key; exactly one PaymentIntent exists at Stripe
    and in our database, and the customer's payment makes one charge, recorded once."""
    calls_before = len(stack.sandbox.requests("POST", "/v1/payment_intents"))
    stack.sandbox.arm_fault(fault, OUTLASTING, "/v1/payment_intents")
    first = customer.session.get(customer.pay_url, timeout=60)
    assert _unavailable_page(first), (first.status_code, first.text[:300])
    stack.sandbox.clear_faults()  # a 429 is not retried, so some may be left
    before = _payment(stack, customer.public_id)
    assert before is None or before[2] is None

    stack.sandbox.arm_fault(fault, 1, "/v1/payment_intents")
    second = customer.session.get(customer.pay_url, timeout=60)
    if fault == "429":  # not retried by the SDK: the customer is told, and tries again
        assert _unavailable_page(second)
        second = customer.session.get(customer.pay_url, timeout=60)
    assert second.status_code == 200, second.status_code
    third = customer.session.get(customer.pay_url, timeout=60)  # a reload
    assert third.status_code == 200

    calls = stack.sandbox.requests("POST", "/v1/payment_intents")[calls_before:]
    keys = {call["idempotency_key"] for call in calls}
    assert len(keys) == 1, keys
    assert len(calls) >= 3  # the faults were really met, and retried
    intent_id, client_secret = intent_on_page(third.text)
    assert _payment(stack, customer.public_id)[2] == intent_id
    assert stack.sandbox.requests("GET", f"/v1/payment_intents/{intent_id}"), "read back"
    intents, charges = _pay_and_settle(stack, customer, client_secret)
    assert (intents, charges) == (1, 1)
    doubled_audit = _settled_once(stack, customer.public_id, paused_webhooks)
    audit_verify(stack)
    record_fault(
        f"Stripe {fault} x{OUTLASTING}, then x1, on the payment page's PaymentIntent create",
        "clear 503 (nothing taken, link still works), then one PaymentIntent; one charge",
        f"{len(calls)} create calls with 1 idempotency key; customer saw the 503 words, then "
        f"the page; {intents} PaymentIntent, {charges} charge, recorded once",
        0,
        intents - 1 + charges - 1 + doubled_audit,
    )


def test_a_timeout_while_the_page_creates_the_intent_makes_one(customer, stack, paused_webhooks):
    """Proves: Stripe makes the PaymentIntent but its answer never comes (the client gives up
    after STRIPE_TIMEOUT_SECONDS); the SDK's retry under the same idempotency key is answered
    with the saved PaymentIntent, so the customer's page shows and there is one PaymentIntent
    at Stripe, and one charge once they pay."""
    timeout = float(stack.app().config["STRIPE_TIMEOUT_SECONDS"])
    calls_before = len(stack.sandbox.requests("POST", "/v1/payment_intents"))
    stack.sandbox.arm_fault("timeout", 1, "/v1/payment_intents", timeout_seconds=timeout + 5)
    page = customer.session.get(customer.pay_url, timeout=60)
    assert page.status_code == 200, page.status_code

    first, second = stack.sandbox.requests("POST", "/v1/payment_intents")[calls_before:]
    assert first["fault"] == "timeout" and not first["replayed"]
    assert second["fault"] is None and second["replayed"]
    assert first["idempotency_key"] == second["idempotency_key"]
    intent_id, client_secret = intent_on_page(page.text)
    assert _payment(stack, customer.public_id)[2] == intent_id
    intents, charges = _pay_and_settle(stack, customer, client_secret)
    assert (intents, charges) == (1, 1)
    doubled_audit = _settled_once(stack, customer.public_id, paused_webhooks)
    audit_verify(stack)
    record_fault(
        "Stripe timeout (answer lost after the create was made) on the payment page's "
        "PaymentIntent create",
        "the SDK's retry replays the saved answer: one PaymentIntent; one charge",
        f"created once, answer lost after {timeout:g} s, retry replayed with the same key; "
        f"page shown; {intents} PaymentIntent, {charges} charge, recorded once",
        0,
        intents - 1 + charges - 1 + doubled_audit,
    )


@pytest.mark.parametrize("fault", REFUSED_OR_LOST)
def test_faults_while_the_page_polls_its_status_are_explained(
    fault, customer, stack, paused_webhooks
):
    """Proves, per fault: while Stripe cannot be read, the status endpoint the payment page
    polls answers 503 with the plain message (never a 500, never a guessed state) and nothing
    is created twice; when Stripe answers again the same PaymentIntent is reported, and the
    customer's payment makes one charge, recorded once."""
    page = customer.session.get(customer.pay_url, timeout=60)
    assert page.status_code == 200
    intent_id, client_secret = intent_on_page(page.text)
    status_url = customer.pay_url + "/status"

    stack.sandbox.arm_fault(fault, OUTLASTING, f"/v1/payment_intents/{intent_id}")
    down = customer.session.get(status_url, timeout=60)
    assert down.status_code == 503
    assert down.json() == {"state": "unavailable", "message": PROVIDER_UNAVAILABLE}

    stack.sandbox.clear_faults()
    back = customer.session.get(status_url, timeout=60)
    assert back.status_code == 200 and back.json()["state"] == "ready", back.text
    assert _payment(stack, customer.public_id)[2] == intent_id
    intents, charges = _pay_and_settle(stack, customer, client_secret)
    assert (intents, charges) == (1, 1)
    doubled_audit = _settled_once(stack, customer.public_id, paused_webhooks)
    audit_verify(stack)
    record_fault(
        f"Stripe {fault} x{OUTLASTING} on the payment page's status poll (PaymentIntent read)",
        "503 with the plain words, never a guessed state; then the same PaymentIntent; one charge",
        f"503 {{state: unavailable}} with the words; then ready, same PaymentIntent; "
        f"{intents} PaymentIntent, {charges} charge, recorded once",
        0,
        intents - 1 + charges - 1 + doubled_audit,
    )
