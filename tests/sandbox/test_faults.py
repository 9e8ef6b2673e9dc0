"""Injected faults, seen through the SDK: each failure mode, and the SDK's retries recovering."""

from __future__ import annotations

import time

import pytest
import stripe

from .helpers import CLIENT_TIMEOUT, create_intent, make_client


@pytest.fixture
def impatient(sandbox):
    """No retries, and a stripe_client timeout well under the sandbox's held-back answer."""
    return make_client(sandbox, timeout=CLIENT_TIMEOUT)


@pytest.fixture
def patient(sandbox, monkeypatch):
    """The SDK's own retries (the portal's setting), with its backoff shortened for speed."""
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    return make_client(sandbox, retries=2, timeout=CLIENT_TIMEOUT)


def arm(http, sandbox, **fault):
    answer = http.post(f"{sandbox.url}/_sandbox/faults", json=fault)
    assert answer.status_code == 201, answer.text


def created_intents(sandbox):
    return [
        entry
        for entry in sandbox.requests("POST", "/v1/payment_intents")
        if entry["status"] == 200 and not entry["replayed"]
    ]


@pytest.mark.parametrize(
    ("mode", "error_class", "status"),
    [
        ("500", stripe.APIError, 500),
        ("429", stripe.RateLimitError, 429),
    ],
)
def test_refusing_faults(sandbox, http, impatient, mode, error_class, status):
    arm(http, sandbox, mode=mode)
    with pytest.raises(error_class) as failed:
        create_intent(impatient)
    assert failed.value.http_status == status
    assert created_intents(sandbox) == []
    assert create_intent(impatient).status == "requires_payment_method"  # only one call


def test_rate_limit_body(sandbox, http):
    arm(http, sandbox, mode="429")
    answer = http.get(f"{sandbox.url}/v1/events", auth=(sandbox.secret_key, ""))
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "rate_limit"


def test_drop_is_a_connection_error(sandbox, http, impatient):
    arm(http, sandbox, mode="drop")
    with pytest.raises(stripe.APIConnectionError):
        create_intent(impatient)
    # The API did act; only the answer was lost.
    assert len(created_intents(sandbox)) == 1


def test_garbled_answers_200_with_no_stripe_object_and_acts_on_nothing(sandbox, http, impatient):
    """Proves: the call is not carried out, and the answer is a 200 JSON object carrying
    nothing of the resource (the client has to notice by itself)."""
    arm(http, sandbox, mode="garbled")
    intent = create_intent(impatient)
    assert intent.to_dict() == {"unexpected": "not a Stripe object"}
    assert len(sandbox.sandbox.store.payment_intents) == 0
    assert sandbox.requests("POST", "/v1/payment_intents")[0]["fault"] == "garbled"


def test_timeout_is_a_connection_error(sandbox, http, impatient):
    arm(http, sandbox, mode="timeout")
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        create_intent(impatient)
    assert time.monotonic() - started < CLIENT_TIMEOUT + 1


@pytest.mark.parametrize("mode", ["500", "drop", "timeout"])
def test_sdk_retry_recovers_without_a_second_object(sandbox, http, patient, mode):
    arm(http, sandbox, mode=mode)
    intent = create_intent(patient, metadata={"order": "R-1"})
    assert intent.status == "requires_payment_method"
    assert len(sandbox.sandbox.store.payment_intents) == 1
    calls = sandbox.requests("POST", "/v1/payment_intents")
    assert len(calls) == 2
    assert calls[0]["fault"] == mode
    assert calls[0]["idempotency_key"] == calls[1]["idempotency_key"]
    # A 500 stopped the first call before the API: the retry really created the object.
    # A drop or timeout lost the answer of a call that was carried out: the retry replays it.
    assert calls[1]["replayed"] is (mode != "500")


def test_path_prefix_and_count(sandbox, http, impatient):
    intent = create_intent(impatient, payment_method="pm_card_visa", confirm=True)
    arm(http, sandbox, mode="500", count=2, path_prefix="/v1/refunds")
    assert impatient.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            impatient.v1.refunds.create(params={"payment_intent": intent.id})
    assert impatient.v1.refunds.create(params={"payment_intent": intent.id}).amount == 2500


def test_clear_faults(sandbox, http, impatient):
    arm(http, sandbox, mode="500", count=5)
    assert len(http.get(f"{sandbox.url}/_sandbox/faults").json()["data"]) == 1
    assert http.delete(f"{sandbox.url}/_sandbox/faults").status_code == 200
    assert create_intent(impatient).id


def test_faults_never_touch_stripe_js(sandbox, http):
    arm(http, sandbox, mode="500")
    assert http.get(f"{sandbox.url}/v3/").status_code == 200


def test_bad_fault_requests(sandbox, http):
    assert http.post(f"{sandbox.url}/_sandbox/faults", json={"mode": "explode"}).status_code == 400
    assert (
        http.post(
            f"{sandbox.url}/_sandbox/faults", json={"mode": "500", "path_prefix": "/v3/"}
        ).status_code
        == 400
    )


def test_reset_clears_everything(sandbox, http, impatient):
    create_intent(impatient)
    arm(http, sandbox, mode="500")
    assert http.post(f"{sandbox.url}/_sandbox/reset").status_code == 200
    assert http.get(f"{sandbox.url}/_sandbox/requests").json()["data"] == []
    assert create_intent(impatient).id
