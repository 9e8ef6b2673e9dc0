"""Refunds: partial, full, too much, after a full refund, by charge, listing."""

from __future__ import annotations

import pytest
import stripe

from .helpers import create_intent


@pytest.fixture
def paid(stripe_client):
    return create_intent(stripe_client, amount=2500, payment_method="pm_card_visa", confirm=True)


def test_partial_then_rest(stripe_client, paid):
    first = stripe_client.v1.refunds.create(
        params={
            "payment_intent": paid.id,
            "amount": 1000,
            "reason": "requested_by_customer",
            "metadata": {"ticket": "T-9"},
        }
    )
    assert first.object == "refund" and first.status == "succeeded"
    assert (first.amount, first.currency, first.charge) == (1000, "gbp", paid.latest_charge)
    assert first.payment_intent == paid.id
    assert first.metadata["ticket"] == "T-9"
    charge = stripe_client.v1.charges.retrieve(paid.latest_charge)
    assert charge.amount_refunded == 1000 and charge.refunded is False
    rest = stripe_client.v1.refunds.create(params={"payment_intent": paid.id})
    assert rest.amount == 1500
    charge = stripe_client.v1.charges.retrieve(paid.latest_charge)
    assert charge.amount_refunded == 2500 and charge.refunded is True
    assert [refund.id for refund in charge.refunds.data] == [rest.id, first.id]


def test_full_refund_by_charge(stripe_client, paid):
    refund = stripe_client.v1.refunds.create(params={"charge": paid.latest_charge})
    assert refund.amount == 2500
    assert stripe_client.v1.charges.retrieve(paid.latest_charge).refunded is True


def test_refund_more_than_left_is_refused_like_stripe(stripe_client, paid):
    stripe_client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 2000})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 600})
    error = refused.value
    assert error.http_status == 400
    assert error.error.type == "invalid_request_error"
    assert error.param == "amount"
    assert error.code is None
    assert error.user_message == (
        "Refund amount (£6.00) is greater than unrefunded amount on charge (£5.00)"
    )


def test_refund_after_full_refund_is_refused(stripe_client, paid):
    stripe_client.v1.refunds.create(params={"payment_intent": paid.id})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 1})
    assert refused.value.code == "charge_already_refunded"
    assert refused.value.user_message == (f"Charge {paid.latest_charge} has already been refunded.")


def test_usd_message_uses_dollars(stripe_client):
    intent = create_intent(
        stripe_client, amount=1000, currency="usd", payment_method="pm_card_visa", confirm=True
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1500})
    assert refused.value.user_message == (
        "Refund amount ($15.00) is greater than unrefunded amount on charge ($10.00)"
    )


def test_unpaid_intent_cannot_be_refunded(stripe_client):
    intent = create_intent(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refused.value.param == "payment_intent"


def test_refund_gets_its_reference_number(stripe_client, paid):
    refund = stripe_client.v1.refunds.create(params={"payment_intent": paid.id})
    assert refund.destination_details.card.reference_status == "pending"
    later = stripe_client.v1.refunds.retrieve(refund.id)
    assert later.destination_details.card.reference_status == "available"
    assert later.destination_details.card.reference


def test_retrieve_and_list_by_payment_intent(stripe_client, paid):
    other = create_intent(stripe_client, payment_method="pm_card_mastercard", confirm=True)
    mine = [
        stripe_client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 100})
        for _ in range(3)
    ]
    stripe_client.v1.refunds.create(params={"payment_intent": other.id, "amount": 100})
    listed = stripe_client.v1.refunds.list(params={"payment_intent": paid.id})
    assert [refund.id for refund in listed.data] == [r.id for r in reversed(mine)]
    assert listed.has_more is False
    page = stripe_client.v1.refunds.list(params={"payment_intent": paid.id, "limit": 2})
    assert len(page.data) == 2 and page.has_more is True
    following = stripe_client.v1.refunds.list(
        params={"payment_intent": paid.id, "limit": 2, "starting_after": page.data[-1].id}
    )
    assert [refund.id for refund in following.data] == [mine[0].id]
    assert stripe_client.v1.refunds.retrieve(mine[1].id).amount == 100
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.refunds.retrieve("re_missing")
    assert missing.value.code == "resource_missing"
