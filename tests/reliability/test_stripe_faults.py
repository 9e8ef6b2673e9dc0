"""Stripe misbehaves (timeouts, 500s, 429s, dropped connections), injected through the offline
sandbox, while the customer's payment page creates and then reads the PaymentIntent. Every
retry reuses the same idempotency key, so there is never a second PaymentIntent, and when the
faults outlast the SDK's retries the customer is told plainly that nothing was taken and the
link still works; trying again later carries on with the same PaymentIntent.

In-process app (runs on SQLite and PostgreSQL), real HTTP to the sandbox through the stripe SDK.
"""

from __future__ import annotations

import html

import pytest
import requests

from portal.payments.messages import PROVIDER_UNAVAILABLE
from tests.functional.payments_support import (
    arm_fault,
    created_intents,
    customer_at_payment,
    load_payment,
    sandbox_settings,
)

pytestmark = [pytest.mark.reliability]
FAULTS = ["timeout", "500", "429", "drop"]
#: The gateway's SDK client makes 1 call + 2 retries; this many faults outlast them all.
OUTLASTING = 3


@pytest.fixture
def pay_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


def _clear_faults(sandbox) -> None:
    requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=5).raise_for_status()


def _create_calls(sandbox) -> list[dict]:
    return sandbox.requests("POST", "/v1/payment_intents")


def _unavailable_page(response) -> bool:
    text = html.unescape(response.get_data(as_text=True))
    return (
        response.status_code == 503
        and "Card payments are not available right now" in text
        and PROVIDER_UNAVAILABLE in text
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_during_creation_never_make_a_second_payment_intent(
    fault, pay_app, make_staff, stripe_sandbox
):
    """Proves, per fault: one fault is absorbed by the SDK's retry (or, for a 429 that Stripe's
    SDK does not retry, shown as a clear 503); faults that outlast the retries show the
    customer a clear 503; every create call carried the same idempotency key; exactly one
    PaymentIntent exists at Stripe and in our database once the customer tries again."""
    customer = customer_at_payment(pay_app, make_staff("agent").id)

    arm_fault(stripe_sandbox, fault, count=OUTLASTING, path_prefix="/v1/payment_intents")
    first = customer.client.get(customer.pay_path)
    assert _unavailable_page(first), first.status_code
    _clear_faults(stripe_sandbox)  # a 429 is not retried, so some may be left
    _, payment = load_payment(pay_app, customer.public_id)
    assert payment is None or payment.stripe_payment_intent_id is None

    arm_fault(stripe_sandbox, fault, count=1, path_prefix="/v1/payment_intents")
    second = customer.client.get(customer.pay_path)
    if fault == "429":  # not retried by the SDK: the customer is told, and tries again
        assert _unavailable_page(second)
        second = customer.client.get(customer.pay_path)
    assert second.status_code == 200, second.status_code
    third = customer.client.get(customer.pay_path)  # a reload
    assert third.status_code == 200

    calls = _create_calls(stripe_sandbox)
    keys = {call["idempotency_key"] for call in calls}
    assert len(keys) == 1, keys
    assert len(calls) >= 3  # the faults were really met, and retried
    assert len(created_intents(stripe_sandbox)) == 1  # carried out once; the rest replayed
    _, payment = load_payment(pay_app, customer.public_id)
    assert payment.stripe_payment_intent_id is not None
    listed = stripe_sandbox.requests(
        "GET", f"/v1/payment_intents/{payment.stripe_payment_intent_id}"
    )
    assert listed, "the page read the PaymentIntent back from Stripe"


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_during_retrieval_are_explained_and_recovered_from(
    fault, pay_app, make_staff, stripe_sandbox
):
    """Proves, per fault: while Stripe cannot be read, the status endpoint the payment page
    polls answers 503 with the plain message (never a 500, never a guessed state) and nothing
    is created twice; when Stripe answers again the same PaymentIntent is reported."""
    customer = customer_at_payment(pay_app, make_staff("agent").id)
    assert customer.client.get(customer.pay_path).status_code == 200
    _, payment = load_payment(pay_app, customer.public_id)
    intent = payment.stripe_payment_intent_id
    status_path = customer.pay_path + "/status"

    arm_fault(stripe_sandbox, fault, count=OUTLASTING, path_prefix=f"/v1/payment_intents/{intent}")
    down = customer.client.get(status_path)
    assert down.status_code == 503
    assert down.get_json() == {"state": "unavailable", "message": PROVIDER_UNAVAILABLE}

    _clear_faults(stripe_sandbox)
    back = customer.client.get(status_path)
    assert back.status_code == 200 and back.get_json()["state"] == "ready"
    assert len(created_intents(stripe_sandbox)) == 1
    _, again = load_payment(pay_app, customer.public_id)
    assert again.stripe_payment_intent_id == intent
