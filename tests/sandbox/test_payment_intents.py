"""PaymentIntents through the real stripe SDK: every path of the status machine, every card."""

from __future__ import annotations

import pytest
import requests
import stripe

from tests.support.card_numbers import shows_number

from .helpers import create_intent, make_client


@pytest.fixture
def browser(sandbox):
    """The publishable key, as Stripe.js uses it: the only caller that may send card numbers."""
    return make_client(sandbox, key=sandbox.publishable_key)


def test_create_and_retrieve(stripe_client):
    intent = create_intent(
        stripe_client,
        metadata={"order": "A-1", "agent": "7"},
        automatic_payment_methods={"enabled": True},
        description="Invoice 1001",
    )
    assert intent.object == "payment_intent"
    assert intent.id.startswith("pi_")
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.status == "requires_payment_method"
    assert intent.amount == 2500 and intent.currency == "gbp"
    assert intent.metadata.to_dict() == {"order": "A-1", "agent": "7"}
    assert intent.automatic_payment_methods.enabled is True
    assert intent.payment_method_types == ["card"]
    assert intent.capture_method == "automatic_async"
    assert intent.livemode is False
    again = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert again.to_dict() == intent.to_dict()


def test_payment_method_types_and_automatic_methods_are_exclusive(stripe_client):
    intent = create_intent(stripe_client, payment_method_types=["card"])
    assert intent.automatic_payment_methods is None
    with pytest.raises(stripe.InvalidRequestError) as refused:
        create_intent(
            stripe_client,
            payment_method_types=["card"],
            automatic_payment_methods={"enabled": True},
        )
    assert refused.value.param == "automatic_payment_methods"


def test_create_validates_like_stripe(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.payment_intents.create(params={"currency": "gbp"})
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "amount")
    with pytest.raises(stripe.InvalidRequestError) as small:
        create_intent(stripe_client, amount=10)
    assert small.value.code == "amount_too_small"
    assert "£0.30" in small.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        create_intent(stripe_client, colour="blue")
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "colour")


def test_update_merges_metadata_and_changes_amount(stripe_client):
    intent = create_intent(stripe_client, metadata={"keep": "1", "drop": "2"})
    updated = stripe_client.v1.payment_intents.update(
        intent.id,
        params={"amount": 3000, "metadata": {"drop": "", "new": "3"}, "description": "changed"},
    )
    assert updated.amount == 3000
    assert updated.metadata.to_dict() == {"keep": "1", "new": "3"}
    assert updated.description == "changed"


def test_update_with_payment_method_then_confirm(stripe_client):
    intent = create_intent(stripe_client)
    updated = stripe_client.v1.payment_intents.update(
        intent.id, params={"payment_method": "pm_card_visa"}
    )
    assert updated.status == "requires_confirmation"
    confirmed = stripe_client.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "succeeded"


def test_amount_cannot_change_after_success(stripe_client):
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.update(intent.id, params={"amount": 100})
    assert refused.value.code == "payment_intent_unexpected_state"
    # Metadata may still change, as with Stripe.
    updated = stripe_client.v1.payment_intents.update(intent.id, params={"metadata": {"note": "x"}})
    assert updated.metadata["note"] == "x"


def test_confirm_success_fills_charge(stripe_client):
    intent = create_intent(stripe_client, metadata={"order": "A-2"})
    confirmed = stripe_client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa", "expand": ["latest_charge"]}
    )
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 2500
    assert confirmed.last_payment_error is None
    assert confirmed.next_action is None
    charge = confirmed.latest_charge
    assert charge.object == "charge" and charge.status == "succeeded"
    assert charge.paid and charge.captured and charge.amount_captured == 2500
    assert charge.payment_intent == intent.id
    assert charge.metadata["order"] == "A-2"
    card = charge.payment_method_details.card
    assert (card.brand, card.last4, card.funding) == ("visa", "4242", "credit")
    assert card.exp_month and card.exp_year
    assert card.three_d_secure is None
    assert charge.outcome.type == "authorized"
    assert charge.failure_code is None
    fetched = stripe_client.v1.charges.retrieve(charge.id)
    assert fetched.to_dict() == charge.to_dict()


def test_confirm_needs_a_payment_method(stripe_client):
    intent = create_intent(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.confirm(intent.id)
    assert refused.value.code == "payment_intent_unexpected_state"
    assert refused.value.error.payment_intent.id == intent.id


def test_confirm_twice_is_refused(stripe_client):
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": "pm_card_visa"}
        )
    assert "already succeeded" in refused.value.user_message


@pytest.mark.parametrize(
    ("number", "brand", "last4"),
    [
        ("4242424242424242", "visa", "4242"),
        ("5555555555554444", "mastercard", "4444"),
    ],
)
def test_successful_test_cards(stripe_client, browser, number, brand, last4):
    payment_method = browser.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "987"},
        }
    )
    assert payment_method.card.brand == brand and payment_method.card.last4 == last4
    assert payment_method.card.checks.cvc_check == "unchecked"
    assert not shows_number(str(payment_method.to_dict()), "987")  # the CVC is never echoed
    assert number not in str(payment_method.to_dict())
    intent = create_intent(stripe_client, payment_method=payment_method.id, confirm=True)
    assert intent.status == "succeeded"
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert charge.payment_method_details.card.brand == brand
    assert (
        charge.payment_method_details.card.exp_month,
        charge.payment_method_details.card.exp_year,
    ) == (12, 2034)


@pytest.mark.parametrize(
    ("number", "code", "decline_code"),
    [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000000069", "expired_card", None),
        ("4000000000000127", "incorrect_cvc", None),
        ("4000000000000119", "processing_error", None),
    ],
)
def test_declining_test_cards(stripe_client, browser, number, code, decline_code):
    payment_method = browser.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 1, "exp_year": 2035, "cvc": "314"},
        }
    )
    intent = create_intent(stripe_client)
    with pytest.raises(stripe.CardError) as declined:
        stripe_client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": payment_method.id}
        )
    error = declined.value
    assert error.http_status == 402
    assert error.code == code
    assert getattr(error.error, "decline_code", None) == decline_code
    assert error.error.type == "card_error"
    assert error.error.payment_intent.status == "requires_payment_method"
    assert error.error.charge.startswith("ch_")
    failed = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.payment_method is None
    assert failed.last_payment_error.code == code
    assert getattr(failed.last_payment_error, "decline_code", None) == decline_code
    charge = stripe_client.v1.charges.retrieve(failed.latest_charge)
    assert charge.status == "failed" and not charge.paid
    assert charge.failure_code == code
    assert charge.outcome.type == "issuer_declined"
    # The customer may try again with another card.
    retried = stripe_client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa"}
    )
    assert retried.status == "succeeded"


def test_ready_made_declining_payment_method(stripe_client):
    with pytest.raises(stripe.CardError) as declined:
        create_intent(
            stripe_client, payment_method="pm_card_chargeDeclinedInsufficientFunds", confirm=True
        )
    assert declined.value.error.decline_code == "insufficient_funds"


def test_invalid_card_numbers_are_refused(browser):
    with pytest.raises(stripe.CardError) as luhn:
        browser.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2035},
            }
        )
    assert luhn.value.code == "incorrect_number"
    with pytest.raises(stripe.CardError) as live:
        browser.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": "4539578763621486", "exp_month": 1, "exp_year": 2035},
            }
        )
    assert live.value.error.decline_code == "test_mode_live_card"


def test_three_d_secure_redirect_then_complete(stripe_client, sandbox):
    intent = create_intent(
        stripe_client,
        payment_method="pm_card_authenticationRequired",
        confirm=True,
        return_url="https://portal.example/return",
    )
    assert intent.status == "requires_action"
    assert intent.next_action.type == "redirect_to_url"
    url = intent.next_action.redirect_to_url.url
    assert url.startswith(f"{sandbox.url}/3ds/{intent.id}?client_secret=")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "Complete authentication" in page.text
    answer = requests.post(
        f"{sandbox.url}/3ds/{intent.id}",
        allow_redirects=False,
        timeout=5,
        data={"client_secret": intent.client_secret, "outcome": "complete"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("https://portal.example/return?")
    assert "redirect_status=succeeded" in answer.headers["Location"]
    assert f"payment_intent={intent.id}" in answer.headers["Location"]
    done = stripe_client.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["latest_charge"]}
    )
    assert done.status == "succeeded"
    assert done.latest_charge.payment_method_details.card.three_d_secure.result == "authenticated"


def test_three_d_secure_failure(stripe_client, sandbox):
    intent = create_intent(
        stripe_client, payment_method="pm_card_authenticationRequired", confirm=True
    )
    assert intent.next_action.type == "use_stripe_sdk"
    answer = requests.post(
        f"{sandbox.url}/3ds/{intent.id}",
        timeout=5,
        headers={"Accept": "application/json"},
        data={"client_secret": intent.client_secret, "outcome": "fail"},
    )
    assert answer.json() == {"status": "requires_payment_method"}
    failed = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    assert failed.latest_charge is None


def test_three_d_secure_page_needs_the_client_secret(sandbox, stripe_client):
    intent = create_intent(
        stripe_client, payment_method="pm_card_authenticationRequired", confirm=True
    )
    assert (
        requests.get(f"{sandbox.url}/3ds/{intent.id}?client_secret=wrong", timeout=5).status_code
        == 404
    )


def test_request_three_d_secure_any_challenges_every_card(stripe_client):
    intent = create_intent(
        stripe_client,
        payment_method="pm_card_visa",
        confirm=True,
        payment_method_options={"card": {"request_three_d_secure": "any"}},
    )
    assert intent.status == "requires_action"


def test_manual_capture_full_and_partial(stripe_client):
    intent = create_intent(
        stripe_client, capture_method="manual", payment_method="pm_card_visa", confirm=True
    )
    assert intent.status == "requires_capture"
    assert intent.amount_capturable == 2500 and intent.amount_received == 0
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert charge.captured is False and charge.paid is True
    captured = stripe_client.v1.payment_intents.capture(
        intent.id, params={"amount_to_capture": 2000}
    )
    assert captured.status == "succeeded"
    assert captured.amount_received == 2000 and captured.amount_capturable == 0
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert charge.captured and charge.amount_captured == 2000
    with pytest.raises(stripe.InvalidRequestError) as again:
        stripe_client.v1.payment_intents.capture(intent.id)
    assert again.value.code == "payment_intent_unexpected_state"


def test_capture_more_than_authorised_is_refused(stripe_client):
    intent = create_intent(
        stripe_client, capture_method="manual", payment_method="pm_card_visa", confirm=True
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 9999})
    assert refused.value.param == "amount_to_capture"


def test_cancel(stripe_client):
    intent = create_intent(stripe_client)
    canceled = stripe_client.v1.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.canceled_at
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": "pm_card_visa"}
        )
    assert refused.value.code == "payment_intent_unexpected_state"


def test_cancel_an_authorisation_releases_it(stripe_client):
    intent = create_intent(
        stripe_client, capture_method="manual", payment_method="pm_card_visa", confirm=True
    )
    stripe_client.v1.payment_intents.cancel(intent.id)
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert charge.refunded and charge.amount_refunded == 2500


def test_succeeded_intent_cannot_be_canceled(stripe_client):
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.cancel(intent.id)
    assert refused.value.code == "payment_intent_unexpected_state"


def test_missing_objects_are_404_resource_missing(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert missing.value.user_message == "No such payment_intent: 'pi_doesnotexist'"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.charges.retrieve("ch_nope")


def test_publishable_key_with_client_secret(sandbox, stripe_client):
    intent = create_intent(stripe_client, metadata={"secret": "not for browsers"})
    browser = make_client(sandbox, key=sandbox.publishable_key)
    seen = browser.v1.payment_intents.retrieve(
        intent.id, params={"client_secret": intent.client_secret}
    )
    assert seen.status == "requires_payment_method"
    assert "metadata" not in seen and "latest_charge" not in seen
    confirmed = browser.v1.payment_intents.confirm(
        intent.id, params={"client_secret": intent.client_secret, "payment_method": "pm_card_visa"}
    )
    assert confirmed.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as wrong:
        browser.v1.payment_intents.retrieve(intent.id, params={"client_secret": "pi_x_secret_y"})
    assert wrong.value.param == "client_secret"
    with pytest.raises(stripe.PermissionError):
        browser.v1.payment_intents.retrieve(intent.id)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, pi: c.v1.payment_intents.create(params={"amount": 2500, "currency": "gbp"}),
        lambda c, pi: c.v1.payment_intents.update(pi.id, params={"description": "x"}),
        lambda c, pi: c.v1.payment_intents.cancel(pi.id),
        lambda c, pi: c.v1.refunds.list(),
        lambda c, pi: c.v1.events.list(),
        lambda c, pi: c.v1.charges.retrieve("ch_x"),
    ],
)
def test_publishable_key_refused_on_secret_only_calls(sandbox, stripe_client, call):
    intent = create_intent(stripe_client)
    browser = make_client(sandbox, key=sandbox.publishable_key)
    with pytest.raises(stripe.PermissionError) as refused:
        call(browser, intent)
    assert refused.value.http_status == 403
    assert "publishable API key" in refused.value.user_message


def test_publishable_key_may_create_payment_methods(sandbox):
    browser = make_client(sandbox, key=sandbox.publishable_key)
    payment_method = browser.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {
                "number": "4242 4242 4242 4242",
                "exp_month": 4,
                "exp_year": 2031,
                "cvc": "123",
            },
        }
    )
    assert payment_method.card.last4 == "4242"


def test_return_url_must_be_a_web_url(stripe_client):
    intent = create_intent(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": "pm_card_visa", "return_url": "javascript:x"}
        )
    assert refused.value.param == "return_url"
