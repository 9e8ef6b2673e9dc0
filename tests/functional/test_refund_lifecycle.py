"""The refund lifecycle end to end, against the Stripe sandbox: Stripe's refund-pending and
refund-fails test cards, events through the real webhook endpoint and worker (duplicated, out
of order, or only ``charge.refund.updated`` as an endpoint on an older API version gets), a
refund that fails after succeeding, and "Try again" in the back office."""

from __future__ import annotations

import pytest

from tests.support.backoffice_write import ask_refund, reauth, reauthenticated_officer
from tests.support.payments import sandbox_settings
from tests.support.refund_journeys import (
    PENDING_REFUND,
    REFUND_FAILS,
    actions_starting,
    deliver_all,
    new_events,
    paid_with,
    refunds_of,
    seen_so_far,
)
from tests.support.web import login, post_form

REFUND = {"scope": "full", "amount": "", "reason_code": "requested_by_customer", "note": "Asked"}


@pytest.fixture
def bo_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


@pytest.fixture
def officer(bo_app, make_staff):
    """A back-office user, signed in (password + TOTP) and re-authenticated."""
    return reauthenticated_officer(bo_app, make_staff)


def detail(client, public_id: str) -> str:
    return client.get(f"/backoffice/transactions/{public_id}").get_data(as_text=True)


def test_pending_then_succeeded_through_duplicated_events(bo_app, stripe_sandbox, agent, officer):
    client, _ = officer
    public_id, intent_id = paid_with(bo_app, stripe_sandbox, agent.id, PENDING_REFUND)
    seen = seen_so_far(stripe_sandbox, intent_id)

    assert ask_refund(client, public_id, REFUND).status_code == 303
    [refund] = refunds_of(bo_app, public_id)
    assert refund.status == "pending"
    page = detail(client, public_id)
    assert (
        'data-testid="remaining-amount">£0.00 <span class="muted">(£0.00 refunded, £12.50 on'
        in page
    )
    assert "Refund this payment" not in page  # nothing left: it is all on its way

    created = new_events(stripe_sandbox, intent_id, seen)
    assert {"refund.created", "charge.refund.updated"} <= {event["type"] for event in created}
    deliver_all(bo_app, created)
    assert refunds_of(bo_app, public_id)[0].status == "pending"

    [changed] = stripe_sandbox.advance_refunds()
    assert changed["id"] == refund.stripe_refund_id
    later = new_events(stripe_sandbox, intent_id, seen)
    assert {"refund.updated", "charge.refund.updated"} <= {event["type"] for event in later}
    assert deliver_all(bo_app, later + later)[len(later) :] == ["duplicate"] * len(later)

    [refund] = refunds_of(bo_app, public_id)
    assert refund.status == "succeeded"
    assert actions_starting(bo_app, public_id, "refund.") == [
        "refund.requested",
        "refund.submitted",
        "refund.pending",
        "refund.succeeded",
    ]
    page = detail(client, public_id)
    assert 'data-testid="remaining-amount">£0.00</dd>' in page
    assert 'data-payment-state="refunded"' in page  # the payment's own panel agrees


def test_a_stale_event_delivered_last_changes_nothing(bo_app, stripe_sandbox, agent, officer):
    """Out of order: the "created" event (its refund still pending) arrives after the
    "updated" one. The refund is fetched again from Stripe, so it stays succeeded."""
    client, _ = officer
    public_id, intent_id = paid_with(bo_app, stripe_sandbox, agent.id, PENDING_REFUND)
    seen = seen_so_far(stripe_sandbox, intent_id)
    assert ask_refund(client, public_id, REFUND).status_code == 303
    created = new_events(stripe_sandbox, intent_id, seen)
    stripe_sandbox.advance_refunds()
    later = new_events(stripe_sandbox, intent_id, seen)

    deliver_all(bo_app, list(reversed(later)) + list(reversed(created)))

    [refund] = refunds_of(bo_app, public_id)
    assert refund.status == "succeeded"
    assert actions_starting(bo_app, public_id, "refund.").count("refund.succeeded") == 1


def test_an_endpoint_that_only_gets_charge_refund_updated_still_follows(
    bo_app, stripe_sandbox, agent, officer
):
    """Endpoints on API versions before 2024-10-28 get no ``refund.*`` events for cards."""
    client, _ = officer
    public_id, intent_id = paid_with(bo_app, stripe_sandbox, agent.id, PENDING_REFUND)
    seen = seen_so_far(stripe_sandbox, intent_id)
    assert ask_refund(client, public_id, REFUND).status_code == 303
    stripe_sandbox.advance_refunds()
    only = [
        e
        for e in new_events(stripe_sandbox, intent_id, seen)
        if e["type"] == "charge.refund.updated"
    ]
    assert only

    deliver_all(bo_app, only)

    assert refunds_of(bo_app, public_id)[0].status == "succeeded"


def test_succeeded_then_failed_then_tried_again(bo_app, stripe_sandbox, agent, officer):
    client, _ = officer
    public_id, intent_id = paid_with(bo_app, stripe_sandbox, agent.id, REFUND_FAILS)
    seen = seen_so_far(stripe_sandbox, intent_id)
    assert ask_refund(client, public_id, REFUND).status_code == 303
    [refund] = refunds_of(bo_app, public_id)
    assert refund.status == "succeeded"
    assert "Refund this payment" not in detail(client, public_id)

    stripe_sandbox.advance_refunds()
    later = new_events(stripe_sandbox, intent_id, seen)
    assert {"refund.failed", "charge.refund.updated"} <= {event["type"] for event in later}
    deliver_all(bo_app, later)

    [refund] = refunds_of(bo_app, public_id)
    assert (refund.status, refund.failure_code) == ("failed", "expired_or_canceled_card")
    # Stripe's truth wins: nothing counts as refunded, everything is refundable again.
    page = detail(client, public_id)
    assert 'data-testid="remaining-amount">£12.50</dd>' in page
    assert 'data-payment-state="paid"' in page
    assert "The customer&#39;s card has expired or been cancelled" in page
    assert "Refund this payment" in page
    assert "Refund of £12.50 failed: no money went back" in page  # the timeline
    listed = client.get("/backoffice/refunds").get_data(as_text=True)
    assert "Failed, not tried again (1)" in listed
    refund_page = client.get(f"/backoffice/refunds/{refund.id}").get_data(as_text=True)
    assert (
        "Failed: no money went back" in refund_page
        and 'data-testid="refund-try-again"' in refund_page
    )

    url = f"/backoffice/refunds/{refund.id}/try-again"
    answer = post_form(client, url, {}, page=f"/backoffice/refunds/{refund.id}")
    assert answer.status_code == 303
    first, retry = refunds_of(bo_app, public_id)
    assert answer.headers["Location"] == f"/backoffice/refunds/{retry.id}"
    assert (retry.retry_of_id, retry.amount_minor, retry.status) == (first.id, 1250, "succeeded")
    assert retry.stripe_refund_id != first.stripe_refund_id
    # Pressed again (a second tab): no third refund, and the page says which one it made.
    again = post_form(client, url, {}, page=f"/backoffice/refunds/{refund.id}")
    assert again.headers["Location"] == f"/backoffice/refunds/{retry.id}"
    assert len(refunds_of(bo_app, public_id)) == 2
    assert "Failed, not tried again" not in client.get("/backoffice/refunds").get_data(as_text=True)
    actions = actions_starting(bo_app, public_id, "refund.")
    assert actions.count("refund.requested") == 2 and actions.count("refund.failed") == 1


def test_try_again_asks_for_reauthentication_first(bo_app, stripe_sandbox, agent, make_staff):
    client = bo_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    public_id, intent_id = paid_with(bo_app, stripe_sandbox, agent.id, REFUND_FAILS)
    seen = seen_so_far(stripe_sandbox, intent_id)
    assert ask_refund(client, public_id, REFUND).status_code == 303
    stripe_sandbox.advance_refunds()
    deliver_all(bo_app, new_events(stripe_sandbox, intent_id, seen))
    [refund] = refunds_of(bo_app, public_id)

    other = bo_app.test_client()  # signed in, never re-authenticated
    login(other, make_staff("backoffice", mfa=True))
    url = f"/backoffice/refunds/{refund.id}/try-again"
    answer = post_form(other, url, {}, page=f"/backoffice/refunds/{refund.id}")

    assert answer.status_code in (302, 303)
    assert "/backoffice/reauth" in answer.headers["Location"]
    assert len(refunds_of(bo_app, public_id)) == 1
