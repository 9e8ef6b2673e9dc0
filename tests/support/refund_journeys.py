"""Helpers for the refund lifecycle and dispute tests: a request paid with one of Stripe's
special test PaymentMethods, the sandbox's events about it delivered (in order, twice, or in
reverse) through the real webhook endpoint and worker, and the rows that result."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.capture import audit_actions
from tests.support.payments import (
    confirm_in_browser,
    customer_at_payment,
    deliver,
    events_for,
    handle_queued_webhooks,
    load_payment,
)

#: Stripe's test PaymentMethods for what happens after the charge.
PENDING_REFUND = "pm_card_pendingRefund"
REFUND_FAILS = "pm_card_refundFail"
DISPUTED = "pm_card_createDispute"


def paid_with(app, sandbox, agent_id: int, payment_method: str, amount_minor: int = 1250):
    """A request the customer paid with ``payment_method``, as the real pages learn it (the
    page's poll); returns (public id, PaymentIntent id)."""
    customer = customer_at_payment(app, agent_id, amount_minor=amount_minor)
    assert customer.client.get(customer.pay_path).status_code == 200
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(sandbox, intent_id, payment_method)
    status = customer.client.get(customer.pay_path + "/status").get_json()
    assert status["state"] == "succeeded", status
    return customer.public_id, intent_id


def seen_so_far(sandbox, intent_id: str) -> set[str]:
    """The ids of every event about ``intent_id`` so far: pass to ``new_events``."""
    return {event["id"] for event in events_for(sandbox, intent_id)}


def new_events(sandbox, intent_id: str, seen: set[str], prefixes=("refund.", "charge.")) -> list:
    """The sandbox's events about ``intent_id`` not in ``seen`` (which they are added to) whose
    type starts with one of ``prefixes``, oldest first."""
    fresh = [
        event
        for event in events_for(sandbox, intent_id)
        if event["id"] not in seen and event["type"].startswith(prefixes)
    ]
    seen.update(event["id"] for event in fresh)
    return fresh


def deliver_all(app, events: list[dict], client=None) -> list[str]:
    """POST each event to the webhook endpoint as Stripe would, then run the worker over the
    queue; returns what the endpoint answered for each."""
    client = client or app.test_client()
    answers = []
    for event in events:
        response = deliver(client, event)
        assert response.status_code == 200, response.get_data(as_text=True)
        answers.append(response.get_json()["outcome"])
    handle_queued_webhooks(app)
    return answers


def refunds_of(app, public_id: str) -> list:
    """The request's refund rows, oldest first, detached."""
    from portal.extensions import db
    from portal.models.refund import Refund

    payment = load_payment(app, public_id)[1]
    with app.app_context():
        rows = list(
            db.session.execute(
                select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def disputes_of(app, public_id: str) -> list:
    """The request's dispute rows, oldest first, detached."""
    from portal.extensions import db
    from portal.models.dispute import Dispute

    payment = load_payment(app, public_id)[1]
    with app.app_context():
        rows = list(
            db.session.execute(
                select(Dispute).where(Dispute.payment_id == payment.id).order_by(Dispute.id)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def actions_starting(app, public_id: str, prefix: str) -> list[str]:
    return [action for action in audit_actions(app, public_id) if action.startswith(prefix)]
