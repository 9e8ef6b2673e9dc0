"""A paid request through /api/v1, against the Stripe sandbox: the payment in the back office's
vocabulary (card brand and last four only) for keys with payments:read, and refunds asked for
by a key wait for a person's approval, audited with the key as actor."""

from __future__ import annotations

import pytest

from tests.support.api import api_call, make_api_key
from tests.support.backoffice_write import audit_rows, paid_request, refunds_in_db
from tests.support.payments import sandbox_settings

REFUND = {"amount": 500, "reason": "requested_by_customer", "note": "Customer asked on the phone"}


@pytest.fixture
def paid(app_factory, stripe_sandbox, make_staff):
    """(app, key, public id): a request of team North the customer paid £12.50 for by Visa."""
    app = app_factory(**sandbox_settings(stripe_sandbox))
    agent = make_staff("agent", team="North")
    admin = make_staff("admin", team="North")
    key = make_api_key(app, created_by_id=admin.id)
    return app, key, paid_request(app, stripe_sandbox, agent.id)


def test_the_payment_reads_as_in_the_back_office_and_shows_only_brand_and_last4(paid):
    app, key, public_id = paid
    client = app.test_client()
    body = api_call(client, "GET", f"/requests/{public_id}", key).get_json()
    assert body["status"] == "succeeded"
    payment = body["payment"]
    assert payment["state"] == "paid" and payment["label"] == "Paid"
    assert payment["card"] == {"brand": "Visa", "last4": "4242"}
    assert payment["paid"] == payment["net"] == 1250 and payment["refunded"] == 0
    assert "4242424242424242" not in str(body) and "pi_" not in str(body)


def test_a_refund_asked_for_by_a_key_waits_for_approval_and_names_the_key(paid):
    app, key, public_id = paid
    client = app.test_client()
    response = api_call(client, "POST", f"/requests/{public_id}/refunds", key, REFUND)
    assert response.status_code == 201, response.get_json()
    refund = response.get_json()
    assert refund["status"] == "pending_approval" and refund["requires_approval"]
    assert refund["requested_through_api"] and refund["amount"] == 500
    (row,) = refunds_in_db(app, public_id)
    assert row.api_key_id is not None and row.requires_approval
    (audited,) = audit_rows(app, "refund.requested")
    assert audited.actor_label.startswith(f"api-key:{key[:18]}")
    shown = api_call(client, "GET", f"/requests/{public_id}", key).get_json()
    assert [r["id"] for r in shown["refunds"]] == [refund["id"]]


def test_a_refund_over_what_was_paid_is_refused_with_its_field(paid):
    app, key, public_id = paid
    client = app.test_client()
    response = api_call(
        client, "POST", f"/requests/{public_id}/refunds", key, {**REFUND, "amount": 1251}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == "amount"
    card = api_call(
        client,
        "POST",
        f"/requests/{public_id}/refunds",
        key,
        {**REFUND, "note": "4242 4242 4242 4242"},
    )
    assert card.status_code == 400 and card.get_json()["error"]["param"] == "note"
    assert refunds_in_db(app, public_id) == []


def test_an_unpaid_request_has_nothing_to_refund(app, client, agent, make_staff):
    from tests.support.capture import create_direct

    admin = make_staff("admin", team="North")
    key = make_api_key(app, scopes=["refunds:write"], created_by_id=admin.id)
    public_id, _ = create_direct(app, agent.id)
    response = api_call(client, "POST", f"/requests/{public_id}/refunds", key, REFUND)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "not_refundable"


def test_a_key_nobody_is_accountable_for_cannot_ask_for_refunds(app, client, agent):
    from tests.support.capture import create_direct

    key = make_api_key(app, scopes=["refunds:write"])
    public_id, _ = create_direct(app, agent.id)
    response = api_call(client, "POST", f"/requests/{public_id}/refunds", key, REFUND)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "no_accountable_administrator"
