"""What the agent's panel says about a request, in every state."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from portal.live_status import panel
from tests.support.capture import create_direct


@pytest.fixture
def capture(app, make_staff):
    public_id, _url = create_direct(app, make_staff("agent").id)
    with app.app_context():
        from portal.extensions import db
        from portal.models.capture import CaptureRequest

        row = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()

        def set_values(**values):
            db.session.execute(
                update(CaptureRequest).where(CaptureRequest.id == row.id).values(**values)
            )
            db.session.expire(row)
            return row

        yield row, set_values


def test_a_fresh_request(capture):
    row, _set = capture
    data = panel.panel_data(row)
    assert data["label"] == "Link ready to give" and data["tone"] == "active"
    assert data["amount"] == "£12.50" and data["kind"] == "Payment"
    assert data["identity_item"] == "Postcode"
    assert data["actions"] == {"revoke": True, "extend": True, "resend": True}
    assert [s["key"] for s in data["steps"] if s["done"]] == ["sent"]


def test_nothing_secret_is_in_the_panel(capture):
    row, _set = capture
    text = repr(panel.panel_data(row))
    for secret in (row.link_nonce_hash, row.identity_hash):
        assert secret not in text


@pytest.mark.parametrize(
    ("values", "label", "in_detail", "tone"),
    [
        ({"status": "failed", "status_reason": "abandoned"}, "Failed", "left the payment", "bad"),
        ({"status": "failed", "status_reason": "card_velocity"}, "Failed", "card velocity", "bad"),
        (
            {"status": "locked", "status_reason": "identity_failed"},
            "Locked",
            "too many wrong",
            "bad",
        ),
        ({"status": "revoked", "status_reason": "revoked_by_agent"}, "Revoked", "console", "muted"),
        ({"status": "succeeded"}, "Completed", "Finished", "good"),
        ({"status": "in_progress"}, "In progress", "entering", "active"),
    ],
)
def test_outcomes_in_plain_words(capture, values, label, in_detail, tone):
    row, set_values = capture
    data = panel.panel_data(set_values(**values))
    assert data["label"] == label and in_detail in data["detail"] and data["tone"] == tone


def test_started_and_wrong_answers(capture):
    from portal.models.types import utcnow

    row, set_values = capture
    data = panel.panel_data(
        set_values(
            status="opened", bound_at=utcnow(), bound_secret_hash="0" * 64, identity_failures=2
        )
    )
    assert data["label"] == "Started on the customer's device"
    assert "2 wrong answers so far" in data["detail"]
    assert data["actions"]["resend"] is False


def test_no_actions_once_finished_and_no_revoke_while_paying(capture):
    row, set_values = capture
    assert panel.panel_data(set_values(status="succeeded"))["actions"] == {
        "revoke": False,
        "extend": False,
        "resend": False,
    }
    paying = panel.panel_data(set_values(status="in_progress"))["actions"]
    assert paying == {"revoke": False, "extend": False, "resend": False}


def test_extend_is_offered_only_below_the_policy_limit(capture):
    from datetime import timedelta

    row, set_values = capture
    set_values(expires_at=row.link_issued_at + timedelta(minutes=60))
    assert panel.panel_data(row)["actions"]["extend"] is False


# --- the payment as the panel's headline -------------------------------------------------------


def _standing(**changes):
    from portal.payments.standing import PaymentFacts, standing

    values = {"status": "requires_payment_method", "amount_minor": 1250, "currency": "GBP"}
    return standing(PaymentFacts(**{**values, **changes}))


@pytest.mark.parametrize(
    ("request_status", "facts", "label", "tone", "label_status"),
    [
        ("verified", {}, "On the payment page", "active", "payment_on_payment_page"),
        (
            "verified",
            {"failed_attempts": 1, "decline_code": "insufficient_funds"},
            "Declined (2 attempts left)",
            "bad",
            "payment_declined",
        ),
        (
            "in_progress",
            {"status": "requires_action"},
            "Confirming with their bank",
            "active",
            "payment_confirming_with_bank",
        ),
        ("in_progress", {"status": "processing"}, "Processing", "active", "payment_processing"),
        ("succeeded", {"status": "succeeded"}, "Paid", "good", "payment_paid"),
        (
            "succeeded",
            {"status": "succeeded", "refunded_minor": 1250},
            "Refunded",
            "muted",
            "payment_refunded",
        ),
        (
            "succeeded",
            {"status": "succeeded", "refunded_minor": 250},
            "Partially refunded",
            "muted",
            "payment_partially_refunded",
        ),
        (
            "succeeded",
            {"status": "succeeded", "dispute_status": "needs_response", "dispute_amount_minor": 1},
            "Disputed",
            "bad",
            "payment_disputed",
        ),
        ("failed", {"status": "canceled", "failed_attempts": 3}, "Failed", "bad", "payment_failed"),
        # Closed before any money was taken: the request's own words stay.
        ("revoked", {"status": "canceled"}, "Revoked", "muted", "revoked"),
        ("expired", {}, "Expired", "muted", "expired"),
        # Paid just as the link was revoked: the money is what the agent must hear about.
        ("revoked", {"status": "succeeded"}, "Paid", "good", "payment_paid"),
    ],
)
def test_the_payment_is_the_headline_once_the_customer_reaches_it(
    capture, request_status, facts, label, tone, label_status
):
    row, set_values = capture
    data = panel.panel_data(
        set_values(status=request_status), standing=_standing(**facts), standing_known=True
    )
    assert (data["label"], data["tone"], data["label_status"]) == (label, tone, label_status)
    assert data["label"] != "Identity confirmed"
    assert "entering their details" not in data["detail"]
    assert data["status"] == request_status  # the request's own status is still reported


def test_before_the_payment_page_the_request_speaks(capture):
    row, set_values = capture
    data = panel.panel_data(set_values(status="verified"), standing=None, standing_known=True)
    assert data["label"] == "Identity confirmed" and data["payment"] is None


def test_the_money_line_names_brand_last_four_and_what_went_back():
    paid = _standing(status="succeeded", card_brand="visa", card_last4="4242", refunded_minor=500)
    assert panel.payment_summary(paid) == (
        "Visa \u2022\u2022\u2022\u2022 4242 \u00b7 paid £12.50 \u00b7 refunded £5.00 "
        "\u00b7 kept £7.50"
    )
    assert panel.payment_summary(_standing(decline_code="x", failed_attempts=1)) == ""
    card = panel.payment_json(paid)["card"]
    assert card == {"brand": "Visa", "last4": "4242"}


def test_a_payment_and_details_request_still_waits_for_the_details(capture):
    row, set_values = capture
    row = set_values(status="in_progress", kind="both", field_set="address")
    data = panel.panel_data(row, standing=_standing(status="succeeded"), standing_known=True)
    assert data["label"] == "Paid"
    assert data["detail"].endswith("Waiting for the customer to send the details asked for.")


def test_the_panel_reads_its_payment_itself_when_not_given(capture, app):
    from portal.extensions import db
    from portal.models.payment import Payment

    row, set_values = capture
    set_values(status="verified")
    db.session.add(
        Payment(
            capture_request_id=row.id,
            amount_minor=1250,
            currency="GBP",
            status="requires_payment_method",
            failure_code="card_declined",
            decline_code="expired_card",
            failed_attempts=1,
        )
    )
    db.session.flush()
    data = panel.panel_data(row)
    limit = app.config["PAYMENT_MAX_ATTEMPTS"]
    assert data["label"] == f"Declined ({limit - 1} attempts left)"
    assert data["payment"]["decline_reason"] == "the card has expired"
    assert [p["label"] for p in panel.panels([row])] == [data["label"]]
