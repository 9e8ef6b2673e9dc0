"""Outbound webhook events come from the real domain actions: the agent's service, the
customer's pages, the Stripe sandbox's payments, refunds and disputes. Each is recorded in the
action's own transaction, with nothing personal in it."""

from __future__ import annotations

import json

import pytest

from portal import audit
from portal.extensions import db
from portal.hooks.events import event_body, events_for_request
from tests.support.backoffice_write import ask_refund, reauthenticated_officer
from tests.support.capture import (
    answer_identity,
    create_direct,
    expire,
    load,
    path_of,
    press_start,
)
from tests.support.card_numbers import shows_card_digits
from tests.support.customer_details import ADDRESS, BOTH_SPEC, DATA_SPEC, Customer
from tests.support.hooks import bodies, deliveries, event_types, register
from tests.support.payments import (
    confirm_in_browser,
    customer_at_payment,
    load_payment,
    sandbox_settings,
)
from tests.support.refund_journeys import (
    DISPUTED,
    REFUND_FAILS,
    deliver_all,
    new_events,
    paid_with,
    seen_so_far,
)

URL = "http://hooks.test:9/in"  # allow-listed, never reached: these tests run no worker
REFUND = {"scope": "full", "amount": "", "reason_code": "requested_by_customer", "note": "Asked"}


@pytest.fixture
def hook_app(app_factory, stripe_sandbox):
    app = app_factory(**sandbox_settings(stripe_sandbox), HOOKS_ALLOWED_HOSTS=["hooks.test:9"])
    register(app, URL)
    return app


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def test_no_endpoint_no_event(app, make_staff):
    public_id, _ = create_direct(app, make_staff("agent").id)
    assert event_types(app, public_id) == []


def test_a_paid_request_from_creation_to_payment(hook_app, stripe_sandbox, agent):
    customer = customer_at_payment(hook_app, agent.id, reference="CRM-77", interaction_id="CALL-9")
    assert customer.client.get(customer.pay_path).status_code == 200
    intent_id = load_payment(hook_app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclinedInsufficientFunds")
    customer.client.get(customer.pay_path + "/status")
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    assert customer.client.get(customer.pay_path + "/status").get_json()["state"] == "succeeded"

    assert event_types(hook_app, customer.public_id) == [
        "request.created",
        "request.sent",
        "request.opened",
        "request.verified",
        "customer.sensitive_step.entered",
        "payment.attempt_failed",
        "payment.succeeded",
        "customer.sensitive_step.left",
        "request.succeeded",
    ]
    events = {body["type"]: body for body in bodies(hook_app, customer.public_id)}
    assert events["request.created"]["data"]["request"] == {
        "id": customer.public_id,
        "reference": "CRM-77",
        "interaction_id": "CALL-9",
        "status": "created",
        "kind": "payment",
    }
    assert events["request.created"]["data"]["amount"] == 1250
    declined = events["payment.attempt_failed"]["data"]["decline"]
    assert declined["decline_code"] == "insufficient_funds"
    assert declined["message"]  # plain words beside the code
    assert events["payment.succeeded"]["data"]["amount"] == 1250
    assert events["customer.sensitive_step.entered"]["data"]["step"] == "payment"
    assert events["customer.sensitive_step.left"]["data"]["step"] == "payment"
    assert events["payment.succeeded"]["id"].startswith("evt_")
    assert events["payment.succeeded"]["timestamp"].endswith("Z")
    # Every event went to the one endpoint subscribed to everything.
    assert len(deliveries(hook_app)) == 9
    raw = json.dumps(bodies(hook_app, customer.public_id))
    assert not shows_card_digits(raw) and "/c/" not in raw and "SW1A" not in raw


def test_personal_data_events_carry_field_names_never_values(hook_app, agent):
    customer = Customer(hook_app, agent.id, **DATA_SPEC)
    customer.get()
    customer.get()  # a reload: still one "entered"
    assert customer.send(ADDRESS).status_code == 303

    types = event_types(hook_app, customer.public_id)
    assert types[-4:] == [
        "customer.sensitive_step.entered",
        "request.data_captured",
        "customer.sensitive_step.left",
        "request.succeeded",
    ]
    captured = next(b for b in bodies(hook_app, customer.public_id) if "data_captured" in b["type"])
    assert set(captured["data"]["fields"]) <= set(ADDRESS)
    assert "address_line1" in captured["data"]["fields"]
    raw = json.dumps(bodies(hook_app, customer.public_id))
    for value in ("Quillfeather", "Wexcombe", "ze2 9qx", "ZE2 9QX"):
        assert value not in raw


def test_declining_the_details_ends_the_step(hook_app, agent):
    customer = Customer(hook_app, agent.id, **BOTH_SPEC)
    customer.get()
    with hook_app.app_context():  # what the customer's confirmed "No, thank you" does
        from portal.capture import data_step
        from portal.personal_data import service as data_service

        request = load_attached(customer.public_id)
        notice = data_service.notice_for(request).notice_version
        data_step.decline(request, notice, audit.CUSTOMER)
        db.session.commit()
    types = event_types(hook_app, customer.public_id)
    assert "request.data_declined" in types
    left = [b for b in bodies(hook_app, customer.public_id) if b["type"].endswith(".left")]
    assert [b["data"]["step"] for b in left] == ["personal_data"]


def test_locked_revoked_and_expired(hook_app, agent):
    locked_id, url = create_direct(hook_app, agent.id)
    client = hook_app.test_client()
    press_start(client, url)
    for _ in range(5):
        answer_identity(client, url, "N1 9GU")
    assert "request.locked" in event_types(hook_app, locked_id)

    revoked_id, _ = create_direct(hook_app, agent.id)
    with hook_app.app_context():
        from portal.capture import service

        service.revoke(load_attached(revoked_id), actor=audit.Actor.staff(agent))
        db.session.commit()
    assert event_types(hook_app, revoked_id)[-1] == "request.revoked"

    expired_id, url = create_direct(hook_app, agent.id)
    expire(hook_app, expired_id)
    hook_app.test_client().get(path_of(url))
    assert event_types(hook_app, expired_id)[-1] == "request.expired"


def load_attached(public_id: str):
    from sqlalchemy import select

    from portal.models.capture import CaptureRequest

    return db.session.execute(
        select(CaptureRequest).where(CaptureRequest.public_id == public_id)
    ).scalar_one()


def test_a_failed_link_delivery_is_an_event(hook_app, agent):
    public_id, _ = create_direct(hook_app, agent.id)
    with hook_app.app_context():
        # What portal.delivery.outcomes records when a provider refuses the last attempt.
        audit.record_for(
            public_id,
            "delivery.failed",
            audit.DELIVERY_WORKER,
            outcome="failure",
            details={"channel": "sms", "error_code": "invalid_number", "message_id": 1},
        )
        db.session.commit()
    [failed] = [b for b in bodies(hook_app, public_id) if b["type"] == "request.delivery_failed"]
    assert failed["data"]["channel"] == "sms" and failed["data"]["reason"] == "invalid_number"


def test_refund_failed_and_succeeded(hook_app, stripe_sandbox, agent, make_staff):
    client, _ = reauthenticated_officer(hook_app, make_staff)
    fails_id, intent_id = paid_with(hook_app, stripe_sandbox, agent.id, REFUND_FAILS)
    seen = seen_so_far(stripe_sandbox, intent_id)
    assert ask_refund(client, fails_id, REFUND).status_code == 303
    stripe_sandbox.advance_refunds()
    deliver_all(hook_app, new_events(stripe_sandbox, intent_id, seen))
    assert "refund.failed" in event_types(hook_app, fails_id)

    paid_id, _ = paid_with(hook_app, stripe_sandbox, agent.id, "pm_card_visa")
    assert ask_refund(client, paid_id, REFUND).status_code == 303
    [refund] = [b for b in bodies(hook_app, paid_id) if b["type"] == "refund.succeeded"]
    assert refund["data"]["refund"]["amount"] == 1250
    assert refund["data"]["refund"]["currency"] == "GBP"
    assert refund["data"]["refund"]["id"].startswith("re_")


def test_dispute_opened_and_closed(hook_app, stripe_sandbox, agent):
    public_id, intent_id = paid_with(hook_app, stripe_sandbox, agent.id, DISPUTED)
    seen: set[str] = set()
    deliver_all(hook_app, new_events(stripe_sandbox, intent_id, seen))
    stripe_sandbox.close_dispute(stripe_sandbox.list_disputes(intent_id)[0]["id"], "lost")
    deliver_all(hook_app, new_events(stripe_sandbox, intent_id, seen))
    types = event_types(hook_app, public_id)
    assert types.count("dispute.opened") == 1 and types.count("dispute.closed") == 1
    closed = [b for b in bodies(hook_app, public_id) if b["type"] == "dispute.closed"][0]
    assert closed["data"]["dispute"]["status"] == "lost"


def test_only_subscribed_types_and_the_requests_team(app_factory, make_staff):
    app = app_factory(HOOKS_ALLOWED_HOSTS=["hooks.test:9"])
    north = make_staff("agent", team="North")
    south = make_staff("agent", team="South")
    with app.app_context():
        from portal.hooks.endpoints import team_named

        team = team_named("North")
        db.session.expunge(team)
    register(app, URL, ["request.created"], team=team)
    north_id, _ = create_direct(app, north.id)
    south_id, _ = create_direct(app, south.id)
    assert [d.capture_request_id for d in deliveries(app)] == [load(app, north_id).id]
    assert event_types(app, south_id) == []
    with app.app_context():
        request = load_attached(north_id)
        listed = [event_body(e)["type"] for e in events_for_request(request)]
    assert listed[:2] == ["request.created", "request.sent"]


def test_the_link_closing_ends_the_payment_step(hook_app, agent):
    customer = customer_at_payment(hook_app, agent.id)
    assert customer.client.get(customer.pay_path).status_code == 200
    expire(hook_app, customer.public_id)
    customer.client.get(customer.pay_path)
    left = [b for b in bodies(hook_app, customer.public_id) if b["type"].endswith(".left")]
    assert [(b["data"]["step"], b["data"]["because"]) for b in left] == [
        ("payment", "capture.expired")
    ]
    assert event_types(hook_app, customer.public_id)[-2:] == [
        "request.expired",
        "customer.sensitive_step.left",
    ]
