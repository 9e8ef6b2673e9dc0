"""Authentication, Stripe's error format, request ids, idempotency keys, CORS."""

from __future__ import annotations

import uuid

import pytest
import stripe

from .helpers import create_intent, make_client


def test_wrong_secret_key_is_401(sandbox):
    wrong = make_client(sandbox, key="sk_test_not_the_right_one_1234")
    with pytest.raises(stripe.AuthenticationError) as refused:
        wrong.v1.payment_intents.retrieve("pi_anything")
    assert refused.value.http_status == 401
    message = refused.value.user_message
    assert message.startswith("Invalid API Key provided: sk_test_")
    assert message.endswith("1234") and "not_the_right" not in message


def test_missing_key_is_401_with_stripes_message(sandbox, http):
    answer = http.get(f"{sandbox.url}/v1/payment_intents/pi_x")
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")
    assert answer.headers["Request-Id"].startswith("req_")


def test_error_body_has_stripes_fields(sandbox, http):
    answer = http.get(
        f"{sandbox.url}/v1/payment_intents/pi_missing",
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    )
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error == {
        "code": "resource_missing",
        "doc_url": "https://docs.stripe.com/error-codes/resource-missing",
        "message": "No such payment_intent: 'pi_missing'",
        "param": "intent",
        "request_log_url": error["request_log_url"],
        "type": "invalid_request_error",
    }
    assert answer.headers["Request-Id"] in error["request_log_url"]


def test_unknown_url_is_stripes_404(sandbox, http):
    answer = http.get(
        f"{sandbox.url}/v1/customers", headers={"Authorization": f"Bearer {sandbox.secret_key}"}
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/customers)."
    )


def test_every_response_has_a_request_id(sandbox, stripe_client, http):
    intent = create_intent(stripe_client)
    assert intent.last_response.request_id.startswith("req_")
    assert http.get(f"{sandbox.url}/v3/").headers["Request-Id"].startswith("req_")


def test_basic_auth_like_curl(sandbox, http):
    answer = http.get(f"{sandbox.url}/v1/events", auth=(sandbox.secret_key, ""))
    assert answer.status_code == 200


def test_secret_key_is_never_accepted_as_a_parameter(sandbox, http):
    answer = http.get(f"{sandbox.url}/v1/events", params={"key": sandbox.secret_key})
    assert answer.status_code == 401


def test_cors_for_stripe_js(sandbox, http):
    answer = http.options(
        f"{sandbox.url}/v1/payment_intents/pi_x", headers={"Origin": "http://127.0.0.1:5000"}
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_idempotent_replay(sandbox, stripe_client):
    key = str(uuid.uuid4())
    first = stripe_client.v1.payment_intents.create(
        params={"amount": 2500, "currency": "gbp", "metadata": {"o": "1"}},
        options={"idempotency_key": key},
    )
    again = stripe_client.v1.payment_intents.create(
        params={"amount": 2500, "currency": "gbp", "metadata": {"o": "1"}},
        options={"idempotency_key": key},
    )
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert len(sandbox.sandbox.store.payment_intents) == 1
    created = sandbox.requests("POST", "/v1/payment_intents")
    assert [entry["replayed"] for entry in created] == [False, True]
    assert {entry["idempotency_key"] for entry in created} == {key}


def test_idempotency_conflict(stripe_client):
    key = str(uuid.uuid4())
    stripe_client.v1.payment_intents.create(
        params={"amount": 2500, "currency": "gbp"}, options={"idempotency_key": key}
    )
    with pytest.raises(stripe.IdempotencyError) as conflict:
        stripe_client.v1.payment_intents.create(
            params={"amount": 9999, "currency": "gbp"}, options={"idempotency_key": key}
        )
    assert conflict.value.http_status == 400
    assert conflict.value.error.type == "idempotency_error"
    assert conflict.value.user_message.startswith(
        "Keys for idempotent requests can only be used with the same parameters they were "
        "first used with."
    )


def test_idempotency_key_on_another_endpoint(stripe_client):
    key = str(uuid.uuid4())
    intent = stripe_client.v1.payment_intents.create(
        params={"amount": 2500, "currency": "gbp"}, options={"idempotency_key": key}
    )
    with pytest.raises(stripe.IdempotencyError):
        stripe_client.v1.payment_intents.cancel(intent.id, options={"idempotency_key": key})


def test_declines_are_replayed_too(stripe_client):
    intent = create_intent(stripe_client)
    key = str(uuid.uuid4())
    answers = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as declined:
            stripe_client.v1.payment_intents.confirm(
                intent.id,
                params={"payment_method": "pm_card_chargeDeclined"},
                options={"idempotency_key": key},
            )
        answers.append(declined.value)
    assert answers[0].error.charge == answers[1].error.charge
    assert answers[1].headers["Idempotent-Replayed"] == "true"


def test_keys_are_scoped_per_api_key(sandbox, stripe_client):
    intent = create_intent(stripe_client)
    key = str(uuid.uuid4())
    browser = make_client(sandbox, key=sandbox.publishable_key)
    browser.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2040},
        },
        options={"idempotency_key": key},
    )
    # The same key under the secret key is a different request, not a conflict.
    confirmed = stripe_client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa"}, options={"idempotency_key": key}
    )
    assert confirmed.status == "succeeded"


def test_invalid_parameters_are_not_saved(stripe_client):
    key = str(uuid.uuid4())
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_intents.create(
            params={"amount": 5, "currency": "gbp"}, options={"idempotency_key": key}
        )
    with pytest.raises(stripe.InvalidRequestError):  # still refused, not a replay
        stripe_client.v1.payment_intents.create(
            params={"amount": 5, "currency": "gbp"}, options={"idempotency_key": key}
        )


def test_recorded_requests_mask_card_data(sandbox, http):
    answer = http.post(
        f"{sandbox.url}/v1/payment_methods",
        headers={"Authorization": f"Bearer {sandbox.publishable_key}"},
        data={
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "1",
            "card[exp_year]": "2040",
            "card[cvc]": "987",
        },
    )
    assert answer.status_code == 200
    recorded = http.get(
        f"{sandbox.url}/_sandbox/requests", params={"method": "POST", "path": "/v1/payment_methods"}
    ).json()["data"]
    assert len(recorded) == 1
    params = recorded[0]["params"]
    assert params["card[number]"] == "************4242"
    assert params["card[cvc]"] == "***"
    assert recorded[0]["key"] == "publishable"
