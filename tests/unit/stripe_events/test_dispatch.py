"""portal.stripe_events.dispatch: which events are queued, and refund and dispute events are
handed to their own packages, each fetching its object again by its own id."""

from __future__ import annotations

import pytest

from portal.payments.facts import webhook_event
from tests.unit.disputes.support import stripe_dispute


def event(event_type: str, obj: dict) -> dict:
    return {
        "id": f"evt_{event_type.replace('.', '_')}",
        "type": event_type,
        "data": {"object": obj},
    }


REFUND = {"id": "re_1", "object": "refund", "payment_intent": "pi_1", "status": "pending"}


@pytest.mark.parametrize(
    ("body", "queued"),
    [
        (event("refund.created", REFUND), True),
        (event("refund.failed", REFUND), True),
        (event("charge.refund.updated", REFUND), True),
        (event("charge.dispute.created", stripe_dispute("pi_1")), True),
        (event("charge.dispute.funds_withdrawn", stripe_dispute(None)), True),
        (event("charge.dispute.closed", stripe_dispute("pi_1")), True),
        (event("customer.created", {"id": "cus_1", "object": "customer"}), False),
    ],
)
def test_refund_and_dispute_events_are_queued(app, body, queued):
    from portal.stripe_events import dispatch

    with app.app_context():
        outcome = dispatch.receive(webhook_event(body))
        assert outcome == ("queued" if queued else "ignored")


def test_refund_and_dispute_events_ask_about_their_own_object_not_the_intent():
    """The worker asks Stripe about a PaymentIntent once per batch; refund and dispute events
    name one too, but must each fetch their own object."""
    from portal.stripe_events import worker

    for body in (
        event("charge.refund.updated", REFUND),
        event("charge.dispute.updated", stripe_dispute("pi_1")),
    ):
        parsed = webhook_event(body)
        assert parsed.payment_intent_id == "pi_1"
        assert not worker._asks_about_intent(parsed)
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}
    assert worker._asks_about_intent(webhook_event(event("charge.succeeded", charge)))
