"""Events under /v1/events, and their signed webhook delivery (accepted by the SDK's verifier)."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from stripe_sandbox.webhooks import sign

from .helpers import WEBHOOK_SECRET, create_intent, wait_for


def event_types(stripe_client, **params):
    return [
        event.type for event in stripe_client.v1.events.list(params={"limit": 100, **params}).data
    ]


def test_events_of_a_successful_payment_and_refund(stripe_client):
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 500})
    assert list(reversed(event_types(stripe_client))) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "refund.created",
        "charge.refund.updated",
        "charge.refunded",
        "refund.updated",
        "charge.refund.updated",
    ]


def test_events_of_a_decline_and_a_failed_authentication(stripe_client, sandbox, http):
    with pytest.raises(stripe.CardError):
        create_intent(stripe_client, payment_method="pm_card_chargeDeclined", confirm=True)
    intent = create_intent(
        stripe_client, payment_method="pm_card_authenticationRequired", confirm=True
    )
    http.post(
        f"{sandbox.url}/3ds/{intent.id}",
        headers={"Accept": "application/json"},
        data={"client_secret": intent.client_secret, "outcome": "fail"},
    )
    stripe_client.v1.payment_intents.cancel(intent.id)
    assert list(reversed(event_types(stripe_client))) == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
    ]


def test_event_shape_and_retrieve(stripe_client):
    key = "order-77-create"
    intent = stripe_client.v1.payment_intents.create(
        params={"amount": 2500, "currency": "gbp"}, options={"idempotency_key": key}
    )
    event = stripe_client.v1.events.list(params={"type": "payment_intent.created"}).data[0]
    assert event.id.startswith("evt_")
    assert event.object == "event" and event.livemode is False
    assert event.api_version == stripe.api_version
    assert event.data.object.id == intent.id
    assert event.request.id == intent.last_response.request_id
    assert event.request.idempotency_key == key
    assert event.pending_webhooks == 0
    assert stripe_client.v1.events.retrieve(event.id).to_dict() == event.to_dict()
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.events.retrieve("evt_missing")


def test_event_filters_and_pagination(stripe_client):
    for _ in range(3):
        create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    assert (
        event_types(stripe_client, type="payment_intent.succeeded")
        == ["payment_intent.succeeded"] * 3
    )
    assert set(event_types(stripe_client, type="charge.*")) == {"charge.succeeded"}
    first = stripe_client.v1.events.list(params={"limit": 4})
    assert len(first.data) == 4 and first.has_more
    rest = stripe_client.v1.events.list(params={"limit": 100, "starting_after": first.data[-1].id})
    assert len(rest.data) == 5 and not rest.has_more


def test_webhook_signed_and_accepted_by_the_sdk(sandbox, stripe_client, receiver):
    sandbox.set_webhook(receiver.url, WEBHOOK_SECRET)
    intent = create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    wait_for(lambda: len(receiver.received) >= 3)
    received = receiver.received[:3]
    events = [
        stripe.Webhook.construct_event(
            entry["body"], entry["headers"]["Stripe-Signature"], WEBHOOK_SECRET, tolerance=300
        )
        for entry in received
    ]
    assert [event.type for event in events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    assert events[2].data.object.id == intent.id
    assert events[0].pending_webhooks == 1
    assert received[0]["headers"]["Content-Type"].startswith("application/json")
    deliveries = wait_for(
        lambda: (
            [d for d in sandbox.webhook_deliveries() if d["delivered"]]
            if len(sandbox.webhook_deliveries()) >= 3
            else None
        )
    )
    assert {d["status"] for d in deliveries} == {200}
    wait_for(lambda: stripe_client.v1.events.retrieve(events[0].id).pending_webhooks == 0)


def test_webhook_with_wrong_secret_is_refused(sandbox, stripe_client, receiver):
    sandbox.set_webhook(receiver.url, WEBHOOK_SECRET)
    create_intent(stripe_client)
    wait_for(lambda: receiver.received)
    entry = receiver.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            entry["body"], entry["headers"]["Stripe-Signature"], "whsec_someone_else", tolerance=300
        )
    tampered = entry["body"].replace(b"requires_payment_method", b"succeeded")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            tampered, entry["headers"]["Stripe-Signature"], WEBHOOK_SECRET, tolerance=300
        )


def test_signature_with_old_timestamp_is_refused():
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x"}).encode()
    fresh = sign(payload, WEBHOOK_SECRET)
    assert stripe.Webhook.construct_event(payload, fresh, WEBHOOK_SECRET, tolerance=300)
    stale = sign(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 600)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(payload, stale, WEBHOOK_SECRET, tolerance=300)


def test_redelivery_after_receiver_failures_keeps_order(sandbox, stripe_client, receiver):
    receiver.fail_first = 2
    sandbox.set_webhook(receiver.url, WEBHOOK_SECRET)
    create_intent(stripe_client, payment_method="pm_card_visa", confirm=True)
    wait_for(lambda: len(receiver.received) >= 5)
    types = [json.loads(body)["type"] for body in receiver.bodies()]
    assert types == ["payment_intent.created"] * 3 + [
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    attempts = [
        (d["event_type"], d["attempt"], d["status"])
        for d in wait_for(
            lambda: sandbox.webhook_deliveries() if len(sandbox.webhook_deliveries()) >= 5 else None
        )
    ]
    assert attempts[:3] == [
        ("payment_intent.created", 1, 500),
        ("payment_intent.created", 2, 500),
        ("payment_intent.created", 3, 200),
    ]
    for entry in receiver.received[:3]:  # each attempt is signed afresh, and validly
        stripe.Webhook.construct_event(
            entry["body"], entry["headers"]["Stripe-Signature"], WEBHOOK_SECRET, tolerance=300
        )


def test_redelivery_when_receiver_is_down(sandbox, stripe_client, receiver, http):
    down = "http://127.0.0.1:9/unreachable"  # discard port: nothing listens
    sandbox.set_webhook(down, WEBHOOK_SECRET)
    create_intent(stripe_client)
    wait_for(lambda: len(sandbox.webhook_deliveries()) >= 2)
    failed = sandbox.webhook_deliveries()[0]
    assert failed["delivered"] is False and failed["error"]
    # The receiver comes back: switching the endpoint delivers what is queued there.
    sandbox.set_webhook(receiver.url, WEBHOOK_SECRET)
    create_intent(stripe_client)
    wait_for(lambda: receiver.received)
    listed = http.get(f"{sandbox.url}/_sandbox/webhook_deliveries").json()
    assert listed["data"][-1]["delivered"] is True


def test_no_endpoint_no_deliveries(sandbox, stripe_client):
    create_intent(stripe_client)
    assert sandbox.webhook_deliveries() == []
    assert stripe_client.v1.events.list().data[0].pending_webhooks == 0


def test_webhook_endpoint_switch_over_http(sandbox, http, receiver, stripe_client):
    answer = http.post(
        f"{sandbox.url}/_sandbox/webhook_endpoint",
        json={"url": receiver.url, "secret": WEBHOOK_SECRET},
    )
    assert answer.json() == {"url": receiver.url}
    create_intent(stripe_client)
    wait_for(lambda: receiver.received)
    refused = http.post(
        f"{sandbox.url}/_sandbox/webhook_endpoint",
        json={"url": "file:///etc/passwd", "secret": WEBHOOK_SECRET},
    )
    assert refused.status_code == 400
