"""List reads: every PaymentIntent, every charge of an intent (failed ones too), its refunds."""

from __future__ import annotations

import time

import pytest
import stripe

from .helpers import create_intent, make_client


def declined_then_paid(client: stripe.StripeClient) -> stripe.PaymentIntent:
    """An intent with two declined attempts, then a successful one."""
    intent = create_intent(client)
    for card in ("pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"):
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.confirm(intent.id, params={"payment_method": card})
    return client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})


def test_charges_of_an_intent_include_every_failed_attempt(stripe_client):
    intent = declined_then_paid(stripe_client)
    other = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    charges = stripe_client.v1.charges.list(params={"payment_intent": intent.id})
    assert charges.object == "list" and charges.url == "/v1/charges"
    assert charges.has_more is False
    assert [charge.status for charge in charges.data] == ["succeeded", "failed", "failed"]
    assert [charge.outcome.reason for charge in charges.data][1:] == [
        "insufficient_funds",
        "generic_decline",
    ]
    assert charges.data[0].id == intent.latest_charge
    assert {charge.payment_intent for charge in charges.data} == {intent.id}
    assert other.latest_charge not in {charge.id for charge in charges.data}
    everything = stripe_client.v1.charges.list(params={"limit": 100})
    assert len(everything.data) == 4


def test_every_charge_emits_failed_or_succeeded(stripe_client):
    intent = declined_then_paid(stripe_client)
    events = stripe_client.v1.events.list(params={"type": "charge.*", "limit": 100}).data
    charge_events = [
        (event.type, event.data.object.id)
        for event in reversed(events)
        if event.data.object.payment_intent == intent.id
    ]
    charges = reversed(stripe_client.v1.charges.list(params={"payment_intent": intent.id}).data)
    assert charge_events == [
        ("charge.failed" if charge.status == "failed" else "charge.succeeded", charge.id)
        for charge in charges
    ]


def test_charge_list_pages_like_stripe(stripe_client):
    intent = declined_then_paid(stripe_client)
    first = stripe_client.v1.charges.list(params={"payment_intent": intent.id, "limit": 2})
    assert len(first.data) == 2 and first.has_more is True
    rest = stripe_client.v1.charges.list(
        params={"payment_intent": intent.id, "limit": 2, "starting_after": first.data[-1].id}
    )
    assert len(rest.data) == 1 and rest.has_more is False
    back = stripe_client.v1.charges.list(
        params={"payment_intent": intent.id, "ending_before": rest.data[0].id}
    )
    assert [charge.id for charge in back.data] == [charge.id for charge in first.data]


def test_payment_intents_list_newest_first_and_by_creation_time(stripe_client, sandbox):
    older = create_intent(stripe_client)
    # Stripe's timestamps are whole seconds: move the older intent's back to tell them apart.
    with sandbox.sandbox.store.lock:
        sandbox.sandbox.store.payment_intents[older.id]["created"] -= 100
    newer = create_intent(stripe_client)
    listed = stripe_client.v1.payment_intents.list()
    assert listed.url == "/v1/payment_intents"
    assert [intent.id for intent in listed.data] == [newer.id, older.id]
    assert listed.data[0].client_secret == newer.client_secret
    recent = stripe_client.v1.payment_intents.list(
        params={"created": {"gte": int(time.time()) - 50}}
    )
    assert [intent.id for intent in recent.data] == [newer.id]
    old = stripe_client.v1.payment_intents.list(params={"created": {"lte": int(time.time()) - 50}})
    assert [intent.id for intent in old.data] == [older.id]
    page = stripe_client.v1.payment_intents.list(params={"limit": 1})
    assert page.has_more is True
    after = stripe_client.v1.payment_intents.list(params={"starting_after": page.data[0].id})
    assert [intent.id for intent in after.data] == [older.id]


def test_lists_are_secret_key_only(sandbox):
    browser = make_client(sandbox, key=sandbox.publishable_key)
    for call in (
        lambda: browser.v1.payment_intents.list(),
        lambda: browser.v1.charges.list(),
        lambda: browser.v1.disputes.list(),
    ):
        with pytest.raises(stripe.PermissionError):
            call()


def test_unknown_list_filters_are_refused(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.charges.list(params={"customer": "cus_1"})
    assert refused.value.code == "parameter_unknown"


def test_refunds_of_an_intent(stripe_client):
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    first = stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 500})
    second = stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 700})
    create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    listed = stripe_client.v1.refunds.list(params={"payment_intent": intent.id})
    assert [refund.id for refund in listed.data] == [second.id, first.id]
    assert stripe_client.v1.refunds.retrieve(first.id).amount == 500


def test_refunds_are_listed_by_creation_time_as_stripe_lists_them(stripe_client, sandbox):
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    older = stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 500})
    with sandbox.sandbox.store.lock:  # whole seconds: move the older one back to tell them apart
        sandbox.sandbox.store.refunds[older.id]["created"] -= 100
    newer = stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 700})
    since = int(time.time()) - 50
    recent = stripe_client.v1.refunds.list(params={"created": {"gte": since}})
    assert [refund.id for refund in recent.data] == [newer.id]
    old = stripe_client.v1.refunds.list(params={"created": {"lt": since}})
    assert [refund.id for refund in old.data] == [older.id]
