"""Disputes: the dispute test card, the dispute object and its events, and the harness's
switches that move a dispute to review and close it."""

from __future__ import annotations

import pytest
import stripe

from stripe_sandbox.fixtures import fixture_keys

from .helpers import create_intent, make_client

SEVEN_DAYS = 7 * 24 * 60 * 60


@pytest.fixture
def disputed(stripe_client):
    intent = create_intent(stripe_client, payment_method="pm_card_createDispute", confirm=True)
    assert intent.status == "succeeded"
    return intent


def event_types(client: stripe.StripeClient) -> list[str]:
    return [event.type for event in reversed(client.v1.events.list(params={"limit": 100}).data)]


def test_dispute_card_opens_a_dispute_at_once(stripe_client, disputed):
    listed = stripe_client.v1.disputes.list(params={"payment_intent": disputed.id})
    assert listed.object == "list" and listed.url == "/v1/disputes"
    [dispute] = listed.data
    assert dispute.id.startswith("du_")
    assert set(dispute.to_dict()) == set(fixture_keys("dispute"))
    assert (dispute.status, dispute.reason) == ("needs_response", "fraudulent")
    assert (dispute.amount, dispute.currency) == (2500, "gbp")
    assert dispute.charge == disputed.latest_charge
    assert dispute.payment_intent == disputed.id
    assert dispute.evidence_details.due_by == dispute.created + SEVEN_DAYS
    assert dispute.is_charge_refundable is False
    assert [txn.amount for txn in dispute.balance_transactions] == [-2500]
    assert stripe_client.v1.charges.retrieve(disputed.latest_charge).disputed is True
    assert stripe_client.v1.disputes.retrieve(dispute.id).to_dict() == dispute.to_dict()
    assert event_types(stripe_client)[-4:] == [
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]
    created = stripe_client.v1.events.list(params={"type": "charge.dispute.created"}).data[0]
    assert created.data.object.id == dispute.id
    assert created.data.object.status == "needs_response"


def test_other_cards_are_not_disputed(stripe_client):
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    assert stripe_client.v1.disputes.list(params={"payment_intent": intent.id}).data == []
    assert stripe_client.v1.charges.retrieve(intent.latest_charge).disputed is False


def test_dispute_filters_and_expansion(stripe_client, disputed):
    create_intent(stripe_client, payment_method="pm_card_createDispute", confirm=True)
    assert len(stripe_client.v1.disputes.list().data) == 2
    by_charge = stripe_client.v1.disputes.list(params={"charge": disputed.latest_charge}).data
    assert len(by_charge) == 1
    expanded = stripe_client.v1.disputes.retrieve(
        by_charge[0].id, params={"expand": ["charge", "payment_intent"]}
    )
    assert expanded.charge.id == disputed.latest_charge
    assert expanded.payment_intent.id == disputed.id


def test_unknown_dispute_is_a_404(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.disputes.retrieve("du_nope")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"


def test_refund_of_a_disputed_charge_is_refused(stripe_client, disputed):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"payment_intent": disputed.id})
    assert refused.value.code == "charge_disputed"
    assert refused.value.user_message == (
        f"Charge {disputed.latest_charge} has been charged back; cannot issue a refund."
    )


def test_update_to_under_review_over_http(stripe_client, disputed, sandbox, http):
    [dispute] = stripe_client.v1.disputes.list().data
    answer = http.post(
        f"{sandbox.url}/_sandbox/disputes/{dispute.id}/update", data={"status": "under_review"}
    )
    assert answer.status_code == 200 and answer.json()["status"] == "under_review"
    assert stripe_client.v1.disputes.retrieve(dispute.id).evidence_details.has_evidence is True
    updated = stripe_client.v1.events.list(params={"type": "charge.dispute.updated"}).data
    assert [event.data.object.status for event in updated] == ["under_review"]


def test_close_as_won_reinstates_funds_first(stripe_client, disputed, sandbox):
    [dispute] = stripe_client.v1.disputes.list().data
    sandbox.update_dispute(dispute.id, "under_review")
    closed = sandbox.close_dispute(dispute.id, "won")
    assert closed["status"] == "won"
    assert [txn["amount"] for txn in closed["balance_transactions"]] == [-2500, 2500]
    assert event_types(stripe_client)[-3:] == [
        "charge.dispute.updated",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    ]
    closing = stripe_client.v1.events.list(params={"type": "charge.dispute.closed"}).data[0]
    assert closing.data.object.status == "won"


def test_close_as_lost_over_http(stripe_client, disputed, sandbox, http):
    [dispute] = stripe_client.v1.disputes.list().data
    answer = http.post(
        f"{sandbox.url}/_sandbox/disputes/{dispute.id}/close", json={"outcome": "lost"}
    )
    assert answer.status_code == 200 and answer.json()["status"] == "lost"
    assert event_types(stripe_client)[-1] == "charge.dispute.closed"
    assert "charge.dispute.funds_reinstated" not in event_types(stripe_client)
    again = http.post(
        f"{sandbox.url}/_sandbox/disputes/{dispute.id}/close", json={"outcome": "won"}
    )
    assert again.status_code == 400 and "already closed" in again.json()["error"]


def test_bad_switch_values_are_refused(disputed, stripe_client, sandbox, http):
    [dispute] = stripe_client.v1.disputes.list().data
    bad = http.post(f"{sandbox.url}/_sandbox/disputes/{dispute.id}/close", data={"outcome": "x"})
    assert bad.status_code == 400
    missing = http.post(f"{sandbox.url}/_sandbox/disputes/du_none/close", data={"outcome": "won"})
    assert missing.status_code == 404
    assert stripe_client.v1.disputes.retrieve(dispute.id).status == "needs_response"


def test_merchant_accepts_a_dispute(stripe_client, disputed):
    [dispute] = stripe_client.v1.disputes.list().data
    accepted = stripe_client.v1.disputes.close(dispute.id)
    assert accepted.status == "lost"


def test_dispute_after_manual_capture(stripe_client):
    intent = create_intent(
        stripe_client,
        payment_method="pm_card_createDispute",
        confirm=True,
        capture_method="manual",
    )
    assert stripe_client.v1.disputes.list().data == []
    stripe_client.v1.payment_intents.capture(intent.id)
    [dispute] = stripe_client.v1.disputes.list().data
    assert dispute.payment_intent == intent.id


def test_disputes_are_gone_after_reset(stripe_client, disputed, sandbox):
    sandbox.reset()
    assert stripe_client.v1.disputes.list().data == []
    assert make_client(sandbox).v1.disputes.list().data == []
