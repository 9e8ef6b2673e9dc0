"""Disputes against the Stripe sandbox: Stripe's dispute test card, ``charge.dispute.*`` events
through the real webhook endpoint and worker (duplicated, out of order), the dispute on the
back office's detail and timeline, and refunds refused while it is open (by Postern, and by
Stripe with ``charge_disputed`` when Postern had not heard of the dispute yet). An inquiry (the
bank asking, before any chargeback) is named in its own words and never stops a refund: the
sandbox opens only chargebacks, so the inquiry is applied as Stripe would describe it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.backoffice_write import (
    ask_refund,
    paid_request,
    reauth,
    reauthenticated_officer,
    refund_calls,
    refund_url,
)
from tests.support.payments import sandbox_settings
from tests.support.refund_journeys import (
    DISPUTED,
    actions_starting,
    deliver_all,
    disputes_of,
    new_events,
    paid_with,
    refunds_of,
)
from tests.support.web import login, post_form
from tests.unit.disputes.support import facts as dispute_facts

REFUND = {"scope": "full", "amount": "", "reason_code": "requested_by_customer", "note": "Asked"}
REFUSED = "This payment is disputed by the cardholder&#39;s bank, so it cannot be refunded here."
INQUIRY = (
    "The cardholder&#39;s bank has asked about this payment (an inquiry, not yet a dispute). "
    "You can still refund it; doing so usually closes the inquiry."
)


@pytest.fixture
def bo_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox), DELIVERY_TIMEZONE="Europe/London")


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


@pytest.fixture
def officer(bo_app, make_staff):
    return reauthenticated_officer(bo_app, make_staff)


@pytest.fixture
def disputed(bo_app, stripe_sandbox, agent):
    """A payment the cardholder's bank disputed at once; its events not delivered yet.
    Returns (public id, PaymentIntent id, dispute events, events seen)."""
    public_id, intent_id = paid_with(bo_app, stripe_sandbox, agent.id, DISPUTED)
    seen: set[str] = set()
    events = [e for e in new_events(stripe_sandbox, intent_id, seen) if ".dispute." in e["type"]]
    return public_id, intent_id, events, seen


def detail(client, public_id: str) -> str:
    return client.get(f"/backoffice/transactions/{public_id}").get_data(as_text=True)


def actors_of(app, action: str) -> set[str]:
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        return set(
            db.session.execute(
                select(AuditEvent.actor_label).where(AuditEvent.action == action)
            ).scalars()
        )


def test_a_dispute_is_applied_shown_and_blocks_refunds(bo_app, stripe_sandbox, officer, disputed):
    client, _ = officer
    public_id, intent_id, events, _ = disputed
    assert [event["type"] for event in events] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]

    assert deliver_all(bo_app, events + events) == ["queued"] * 2 + ["duplicate"] * 2

    [dispute] = disputes_of(bo_app, public_id)
    assert (dispute.status, dispute.reason, dispute.amount_minor) == (
        "needs_response",
        "fraudulent",
        1250,
    )
    assert dispute.funds_withdrawn_minor == 1250 and dispute.evidence_due_by is not None
    assert actions_starting(bo_app, public_id, "dispute.") == [
        "dispute.opened",
        "dispute.funds_withdrawn",
    ]
    assert actors_of(bo_app, "dispute.opened") == {"stripe-webhook"}

    page = detail(client, public_id)
    assert 'data-testid="open-dispute"' in page
    assert "The cardholder says they did not make this payment" in page
    assert "UK time" in page and "Disputed: evidence is needed" in page
    assert "Refund this payment" not in page
    assert "Dispute opened by the cardholder&#39;s bank" in page  # the timeline

    refused = ask_refund(client, public_id, REFUND)
    assert refused.status_code == 409
    assert REFUSED in refused.get_data(as_text=True)
    assert refunds_of(bo_app, public_id) == [] and refund_calls(stripe_sandbox) == []


def test_stripe_refusing_a_refund_of_a_disputed_charge_is_said_clearly(
    bo_app, stripe_sandbox, officer, disputed
):
    """The dispute's events have not arrived yet, so Postern lets the refund through to
    Stripe, which refuses it (``charge_disputed``): the clerk reads the same clear message."""
    client, _ = officer
    public_id, *_ = disputed

    answer = ask_refund(client, public_id, REFUND)

    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert REFUSED in page
    [refund] = refunds_of(bo_app, public_id)
    assert (refund.status, refund.failure_code) == ("failed", "charge_disputed")
    [call] = refund_calls(stripe_sandbox)
    assert call["status"] == 400


def test_updated_then_won(bo_app, stripe_sandbox, officer, disputed):
    client, _ = officer
    public_id, intent_id, events, seen = disputed
    deliver_all(bo_app, events)
    dispute_id = disputes_of(bo_app, public_id)[0].stripe_dispute_id

    stripe_sandbox.update_dispute(dispute_id, "under_review")
    deliver_all(bo_app, new_events(stripe_sandbox, intent_id, seen))
    assert disputes_of(bo_app, public_id)[0].status == "under_review"

    stripe_sandbox.close_dispute(dispute_id, "won")
    later = new_events(stripe_sandbox, intent_id, seen)
    assert [event["type"] for event in later] == [
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    ]
    deliver_all(bo_app, later)

    [dispute] = disputes_of(bo_app, public_id)
    assert (dispute.status, dispute.funds_reinstated_minor) == ("won", 1250)
    assert dispute.closed_at is not None
    assert actions_starting(bo_app, public_id, "dispute.") == [
        "dispute.opened",
        "dispute.funds_withdrawn",
        "dispute.updated",
        "dispute.funds_reinstated",
        "dispute.closed",
    ]
    page = detail(client, public_id)
    assert "Dispute closed: won (the money stays with us)" in page
    assert 'data-testid="open-dispute"' not in page
    # Won, but a chargeback: Stripe refunds it no more than before (the sandbox refuses as
    # Stripe does), so the page says why there is no refund and a refund asked for is refused
    # before Stripe is called.
    assert 'data-testid="decided-dispute"' in page and "Refund this payment" not in page
    refused = ask_refund(client, public_id, REFUND)
    assert refused.status_code == 409 and REFUSED in refused.get_data(as_text=True)
    assert refunds_of(bo_app, public_id) == [] and refund_calls(stripe_sandbox) == []


def test_lost_with_the_events_out_of_order(bo_app, stripe_sandbox, officer, disputed):
    """ "closed" arrives before "created": each event fetches the dispute again, so the row is
    right whatever the order, and each change is audited once."""
    client, _ = officer
    public_id, intent_id, events, seen = disputed
    stripe_sandbox.close_dispute(stripe_sandbox.list_disputes(intent_id)[0]["id"], "lost")
    everything = events + new_events(stripe_sandbox, intent_id, seen)

    deliver_all(bo_app, list(reversed(everything)))

    [dispute] = disputes_of(bo_app, public_id)
    assert (dispute.status, dispute.funds_withdrawn_minor) == ("lost", 1250)
    assert actions_starting(bo_app, public_id, "dispute.") == [
        "dispute.opened",
        "dispute.funds_withdrawn",
        "dispute.closed",
    ]
    page = detail(client, public_id)
    assert "Dispute closed: lost (the money went back to the cardholder)" in page


def bank_asks_about(app, intent_id: str) -> None:
    """The cardholder's bank opens an inquiry on the payment (Stripe's
    ``warning_needs_response``), applied as a fetched dispute would be."""
    from portal.audit import Actor
    from portal.disputes import sync
    from portal.extensions import db

    inquiry = dispute_facts(
        intent_id, dispute_id="du_inquiry", status="warning_needs_response", reason="general"
    )
    with app.app_context():
        assert sync.apply_dispute(inquiry, actor=Actor("stripe-webhook"))
        db.session.commit()


def intent_of(app, public_id: str) -> str:
    from tests.support.payments import load_payment

    return load_payment(app, public_id)[1].stripe_payment_intent_id


def test_an_inquiry_is_named_as_one_and_the_payment_can_still_be_refunded(
    bo_app, stripe_sandbox, officer, agent
):
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    bank_asks_about(bo_app, intent_of(bo_app, public_id))

    page = detail(client, public_id)
    assert 'data-testid="open-dispute"' in page and INQUIRY in page
    assert "It cannot be refunded while the dispute is open" not in page
    assert "Refund this payment" in page
    form_page = client.get(refund_url(public_id)).get_data(as_text=True)
    assert 'data-testid="refund-inquiry"' in form_page and INQUIRY in form_page
    assert REFUSED not in form_page and 'class="refund-form"' in form_page

    answer = ask_refund(client, public_id, REFUND)

    assert answer.status_code == 303
    assert REFUSED not in client.get(answer.headers["Location"]).get_data(as_text=True)
    [refund] = refunds_of(bo_app, public_id)
    assert refund.status == "succeeded"
    [call] = refund_calls(stripe_sandbox)
    assert call["status"] == 200


def test_a_refund_approved_after_an_inquiry_opened_is_still_sent(
    bo_app, stripe_sandbox, officer, agent, make_staff
):
    """The check before handing a refund to Stripe stops it for a chargeback, never for an
    inquiry: the second person's approval sends it."""
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id, amount_minor=25000)
    assert ask_refund(client, public_id, REFUND).status_code == 303
    [waiting] = refunds_of(bo_app, public_id)
    assert waiting.status == "pending_approval"
    bank_asks_about(bo_app, intent_of(bo_app, public_id))

    approver_client = bo_app.test_client()
    approver = make_staff("backoffice", mfa=True)
    login(approver_client, approver)
    assert reauth(approver_client, approver).status_code == 303
    page = f"/backoffice/refunds/{waiting.id}"
    assert post_form(approver_client, f"{page}/approve", {}, page=page).status_code == 303

    [refund] = refunds_of(bo_app, public_id)
    assert (refund.status, refund.failure_code) == ("succeeded", None)
    [call] = refund_calls(stripe_sandbox)
    assert call["status"] == 200
