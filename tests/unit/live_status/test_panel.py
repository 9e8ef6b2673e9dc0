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
    assert data["label"] == "Link sent" and data["tone"] == "active"
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
        ({"status": "locked", "status_reason": "identity_failed"}, "Locked", "Too many", "bad"),
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
