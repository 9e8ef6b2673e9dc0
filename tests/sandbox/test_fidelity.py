"""What real Stripe refuses, the sandbox refuses too: card numbers through the secret key, a
confirmation without the return_url Stripe requires, unknown currencies, amounts out of
range; and the special cards (Radar block, attach-ok-charge-fails) fail as Stripe's do."""

from __future__ import annotations

import pytest
import requests
import stripe

from .helpers import create_intent, make_client

UNSAFE = "Sending credit card numbers directly to the Stripe API is generally unsafe."
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}


@pytest.fixture
def browser(sandbox):
    return make_client(sandbox, key=sandbox.publishable_key)


def test_secret_key_may_not_send_card_numbers(stripe_client, sandbox):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_methods.create(params={"type": "card", "card": CARD})
    error = refused.value
    assert error.http_status == 400
    assert error.error.type == "invalid_request_error"
    assert error.user_message.startswith(UNSAFE)
    intent = create_intent(stripe_client)
    for call in (
        lambda: stripe_client.v1.payment_intents.confirm(
            intent.id, params={"payment_method_data": {"type": "card", "card": CARD}}
        ),
        lambda: create_intent(
            stripe_client, confirm=True, payment_method_data={"type": "card", "card": CARD}
        ),
    ):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            call()
        assert refused.value.user_message.startswith(UNSAFE)
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == (
        "requires_payment_method"
    )
    # Nothing about the card was kept, and the recorded calls mask the number.
    assert sandbox.sandbox.store.payment_methods == {}
    recorded = sandbox.requests("POST", "/v1/payment_methods")[0]["params"]
    assert recorded["card[number]"] == "************4242"


def test_publishable_key_may_confirm_with_card_details(sandbox, stripe_client):
    intent = create_intent(stripe_client)
    answer = requests.post(
        f"{sandbox.url}/v1/payment_intents/{intent.id}/confirm",
        data={
            "key": sandbox.publishable_key,
            "client_secret": intent.client_secret,
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": "4000000000009995",
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "40",
            "payment_method_data[card][cvc]": "123",
        },
        timeout=5,
    )
    assert answer.status_code == 402
    assert answer.json()["error"]["decline_code"] == "insufficient_funds"


def test_test_tokens_are_the_safe_way_for_the_secret_key(stripe_client):
    payment_method = stripe_client.v1.payment_methods.create(
        params={"type": "card", "card": {"token": "tok_mastercard"}}
    )
    assert (payment_method.card.brand, payment_method.card.last4) == ("mastercard", "4444")
    intent = create_intent(
        stripe_client,
        confirm=True,
        payment_method_data={"type": "card", "card": {"token": "tok_visa"}},
    )
    assert intent.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe_client.v1.payment_methods.create(
            params={"type": "card", "card": {"token": "tok_nope"}}
        )
    assert unknown.value.http_status == 404


def test_payment_method_and_its_data_together_are_refused(stripe_client):
    intent = create_intent(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.confirm(
            intent.id,
            params={
                "payment_method": "pm_card_visa",
                "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}},
            },
        )
    assert refused.value.param == "payment_method_data"


def test_return_url_required_when_redirect_methods_are_allowed(stripe_client):
    automatic = create_intent(stripe_client, automatic_payment_methods={"enabled": True})
    assert automatic.automatic_payment_methods.allow_redirects == "always"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.confirm(
            automatic.id, params={"payment_method": "pm_card_visa"}
        )
    assert refused.value.param == "return_url"
    assert refused.value.user_message.startswith("A `return_url` must be specified")
    assert stripe_client.v1.payment_intents.retrieve(automatic.id).status == (
        "requires_payment_method"
    )
    confirmed = stripe_client.v1.payment_intents.confirm(
        automatic.id,
        params={"payment_method": "pm_card_visa", "return_url": "https://portal.example/done"},
    )
    assert confirmed.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_intents.create(
            params={
                "amount": 2500,
                "currency": "gbp",
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )  # no payment_method_types: Stripe enables automatic payment methods


def test_return_url_not_needed_without_redirects(stripe_client):
    never = create_intent(
        stripe_client,
        automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
        payment_method="pm_card_visa",
        confirm=True,
    )
    assert never.status == "succeeded"
    assert never.automatic_payment_methods.allow_redirects == "never"
    cards = create_intent(
        stripe_client, payment_method_types=["card"], payment_method="pm_card_visa", confirm=True
    )
    assert cards.status == "succeeded" and cards.automatic_payment_methods is None


@pytest.mark.parametrize("currency", ["xyz", "gbpx", "12a"])
def test_unknown_currencies_are_refused(stripe_client, currency):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create_intent(stripe_client, currency=currency)
    assert refused.value.param == "currency"
    assert refused.value.error.type == "invalid_request_error"
    assert refused.value.user_message.startswith("Invalid currency:")


def test_supported_currencies_in_any_case(stripe_client):
    assert create_intent(stripe_client, currency="EUR").currency == "eur"
    assert create_intent(stripe_client, currency="jpy", amount=500).currency == "jpy"


@pytest.mark.parametrize(
    ("currency", "amount", "code", "message"),
    [
        ("gbp", 29, "amount_too_small", "Amount must be at least £0.30 gbp"),
        ("usd", 49, "amount_too_small", "Amount must be at least $0.50 usd"),
        ("jpy", 49, "amount_too_small", "Amount must be at least ¥50 jpy"),
        ("gbp", 100_000_000, "amount_too_large", "Amount must be no more than £999,999.99"),
        ("kwd", 1005, "invalid_amount", None),
    ],
)
def test_amount_limits(stripe_client, currency, amount, code, message):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create_intent(stripe_client, currency=currency, amount=amount)
    assert refused.value.code == code and refused.value.param == "amount"
    if message:
        assert refused.value.user_message == message


def test_amounts_at_the_limits_are_accepted(stripe_client):
    assert create_intent(stripe_client, amount=30).amount == 30
    assert create_intent(stripe_client, amount=99_999_999).amount == 99_999_999
    assert create_intent(stripe_client, currency="kwd", amount=1010).amount == 1010


def test_radar_blocks_the_high_risk_card(stripe_client):
    intent = create_intent(stripe_client)
    with pytest.raises(stripe.CardError) as blocked:
        stripe_client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": "pm_card_radarBlock"}
        )
    assert blocked.value.code == "card_declined"
    assert blocked.value.error.decline_code == "fraudulent"
    charge = stripe_client.v1.charges.retrieve(blocked.value.error.charge)
    assert charge.status == "failed"
    assert (charge.outcome.type, charge.outcome.risk_level) == ("blocked", "highest")
    assert charge.outcome.network_status == "not_sent_to_network"


def test_card_that_attaches_but_cannot_be_charged(stripe_client, browser):
    payment_method = browser.v1.payment_methods.create(
        params={"type": "card", "card": {**CARD, "number": "4000000000000341"}}
    )
    assert payment_method.card.last4 == "0341"
    for method in (payment_method.id, "pm_card_chargeCustomerFail"):
        intent = create_intent(stripe_client)
        with pytest.raises(stripe.CardError) as declined:
            stripe_client.v1.payment_intents.confirm(intent.id, params={"payment_method": method})
        assert declined.value.code == "card_declined"
        charge = stripe_client.v1.charges.retrieve(declined.value.error.charge)
        assert charge.outcome.type == "issuer_declined"
