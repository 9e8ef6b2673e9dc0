"""Stripe's refund test cards: a refund that waits (pending) and one that later fails; the
harness moves them on with ``/_sandbox/refunds/advance`` and each change is announced."""

from __future__ import annotations

import stripe

from .helpers import create_intent


def paid_with(client: stripe.StripeClient, payment_method: str) -> stripe.PaymentIntent:
    intent = create_intent(client, payment_method=payment_method, confirm=True)
    assert intent.status == "succeeded"
    return intent


def refund_events(client: stripe.StripeClient, refund_id: str) -> list[str]:
    events = client.v1.events.list(params={"limit": 100}).data
    return [
        event.type
        for event in reversed(events)
        if event.data.object.object == "refund" and event.data.object.id == refund_id
    ]


def test_pending_refund_then_succeeds(stripe_client, sandbox, http):
    intent = paid_with(stripe_client, "pm_card_pendingRefund")
    refund = stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    assert refund.status == "pending"
    assert refund.destination_details.card.reference_status == "pending"
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert charge.amount_refunded == 1000  # Stripe counts a pending refund straight away
    assert refund_events(stripe_client, refund.id) == ["refund.created", "charge.refund.updated"]

    answer = http.post(f"{sandbox.url}/_sandbox/refunds/advance")
    assert answer.status_code == 200
    assert [(r["id"], r["status"]) for r in answer.json()["data"]] == [(refund.id, "succeeded")]
    settled = stripe_client.v1.refunds.retrieve(refund.id)
    assert settled.status == "succeeded"
    assert settled.destination_details.card.reference_status == "available"
    assert refund_events(stripe_client, refund.id) == [
        "refund.created",
        "charge.refund.updated",
        "refund.updated",
        "charge.refund.updated",
    ]
    updated = stripe_client.v1.events.list(params={"type": "charge.refund.updated"}).data[0]
    assert updated.data.object.status == "succeeded"
    # Nothing is left to move on.
    assert sandbox.advance_refunds() == []


def test_refund_that_fails_later(stripe_client, sandbox):
    intent = paid_with(stripe_client, "pm_card_refundFail")
    refund = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refund.status == "succeeded"
    assert stripe_client.v1.charges.retrieve(intent.latest_charge).refunded is True

    changed = sandbox.advance_refunds()
    assert [(r["id"], r["status"]) for r in changed] == [(refund.id, "failed")]
    failed = stripe_client.v1.refunds.retrieve(refund.id)
    assert failed.status == "failed"
    assert failed.failure_reason == "expired_or_canceled_card"
    assert failed.failure_balance_transaction.startswith("txn_")
    assert refund_events(stripe_client, refund.id)[-3:] == [
        "refund.updated",
        "refund.failed",
        "charge.refund.updated",
    ]
    failed_event = stripe_client.v1.events.list(params={"type": "refund.failed"}).data[0]
    assert failed_event.data.object.failure_reason == "expired_or_canceled_card"
    # The money came back to the merchant: the charge may be refunded again.
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    assert charge.refunds.data[0].status == "failed"
    retry = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert retry.amount == 2500


def test_ordinary_cards_are_not_moved_on(stripe_client, sandbox):
    intent = paid_with(stripe_client, "pm_card_visa")
    refund = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert sandbox.advance_refunds() == []
    assert stripe_client.v1.refunds.retrieve(refund.id).status == "succeeded"


def test_refund_card_numbers_behave_as_their_ids(sandbox, stripe_client):
    from .helpers import make_client

    browser = make_client(sandbox, key=sandbox.publishable_key)
    payment_method = browser.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4000000000007726", "exp_month": 1, "exp_year": 2040},
        }
    )
    intent = paid_with(stripe_client, payment_method.id)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refund.status == "pending"
