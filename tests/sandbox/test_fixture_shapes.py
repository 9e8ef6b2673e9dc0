"""Every object the sandbox returns has exactly the top-level fields of Stripe's fixture."""

from __future__ import annotations

import json

import pytest
import stripe

from stripe_sandbox.fixtures import FIXTURES_PATH, OPTIONAL_FIELDS, fixture_keys

from .helpers import create_intent


#: Stripe's full fixtures file, where this machine has it (the copy must not drift from it).
def keys_of(stripe_object) -> set[str]:
    return set(stripe_object.to_dict())


@pytest.fixture
def objects(stripe_client, sandbox):
    """One of each kind of object the API returns, in several states."""
    intent = create_intent(stripe_client, metadata={"k": "v"})
    paid = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    declined = create_intent(stripe_client)
    with pytest.raises(stripe.CardError):  # the decline is the point: its objects are kept
        stripe_client.v1.payment_intents.confirm(
            declined.id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    declined = stripe_client.v1.payment_intents.retrieve(declined.id)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 100})
    disputed = create_intent(stripe_client, payment_method="pm_card_createDispute", confirm=True)
    failing = create_intent(stripe_client, payment_method="pm_card_refundFail", confirm=True)
    doomed = stripe_client.v1.refunds.create(params={"payment_intent": failing.id})
    sandbox.advance_refunds()
    return {
        "payment_intent": [
            intent,
            paid,
            declined,
            stripe_client.v1.payment_intents.cancel(intent.id),
        ],
        "payment_method": [
            stripe_client.v1.payment_methods.retrieve(paid.payment_method),
            stripe_client.v1.payment_methods.retrieve("pm_card_mastercard"),
        ],
        "charge": [
            stripe_client.v1.charges.retrieve(paid.latest_charge),
            stripe_client.v1.charges.retrieve(declined.latest_charge),
        ],
        "refund": [
            refund,
            stripe_client.v1.refunds.retrieve(refund.id),
            stripe_client.v1.refunds.retrieve(doomed.id),
        ],
        "dispute": stripe_client.v1.disputes.list(params={"payment_intent": disputed.id}).data,
        "event": [
            stripe_client.v1.events.retrieve(event.id)
            for event in stripe_client.v1.events.list(params={"limit": 100}).data
        ],
    }


@pytest.mark.parametrize(
    "resource", ["payment_intent", "payment_method", "charge", "refund", "dispute", "event"]
)
def test_top_level_fields_match_stripes_fixture(objects, resource):
    expected = set(fixture_keys(resource))
    assert objects[resource]
    for stripe_object in objects[resource]:
        assert stripe_object.object == resource
        # Fields Stripe shows only in some states (a failed refund's reason) come all or none.
        optional = set(OPTIONAL_FIELDS.get(resource, ())) & keys_of(stripe_object)
        assert optional in (set(), set(OPTIONAL_FIELDS.get(resource, ())))
        assert keys_of(stripe_object) - optional == expected


def test_a_failed_refund_carries_its_reason(objects):
    failed = [refund for refund in objects["refund"] if refund.status == "failed"]
    assert failed and keys_of(failed[0]) == set(fixture_keys("refund")) | set(
        OPTIONAL_FIELDS["refund"]
    )


def test_event_payloads_match_their_resources(objects):
    for event in objects["event"]:
        payload = event.data.object
        optional = set(OPTIONAL_FIELDS.get(payload.object, ())) & keys_of(payload)
        assert keys_of(payload) - optional == set(fixture_keys(payload.object))


def test_fixture_copy_carries_its_licence():
    assert (FIXTURES_PATH.parent / "LICENSE").read_text().startswith("The MIT License")
    assert "fixtures3.json" in json.loads(FIXTURES_PATH.read_text())["_origin"]
