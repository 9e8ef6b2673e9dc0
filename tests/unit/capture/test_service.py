"""Policy rules of the capture service that the forms do not already enforce."""

from __future__ import annotations

import pytest

from portal.audit import Actor
from portal.capture import service
from portal.capture.service import CaptureError, RequestSpec


@pytest.fixture
def agent(app, make_staff):
    staff = make_staff("agent", team="North")
    with app.app_context():
        from portal.extensions import db
        from portal.models.staff import StaffUser

        yield db.session.get(StaffUser, staff.id)


def _spec(**overrides) -> RequestSpec:
    values = {
        "kind": "payment",
        "reference": "ACC-1",
        "expiry_minutes": 15,
        "channel": "copy",
        "amount_minor": 500,
        "currency": "GBP",
        "purpose": "Top-up",
        **overrides,
    }
    return RequestSpec(**values)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"expiry_minutes": 61}, "between 1 and 60"),
        ({"expiry_minutes": 0}, "between 1 and 60"),
        ({"amount_minor": None}, "needs an amount"),
        ({"kind": "data"}, "set of details"),
        ({"kind": "both", "field_set": None}, "set of details"),
        ({"identity_item": "postcode", "identity_value": ""}, "Identity check: Enter a postcode"),
        ({"identity_item": "date_of_birth", "identity_value": "30/02/1990"}, "does not exist"),
    ],
)
def test_policy_breaches_are_refused(agent, overrides, message):
    with pytest.raises(CaptureError, match=message):
        service.create_request(agent, _spec(**overrides), actor=Actor.staff(agent))


def test_the_team_is_recorded_and_data_requests_carry_no_amount(agent):
    issued = service.create_request(
        agent,
        _spec(kind="data", field_set="contact", amount_minor=999, currency="GBP"),
        actor=Actor.staff(agent),
    )
    row = issued.request
    assert row.team_id == agent.team_id and row.team_id is not None
    assert row.amount_minor is None and row.currency is None and row.field_set == "contact"
    assert row.identity_item is None and row.identity_hash is None


def test_an_unknown_channel_destination_is_refused_by_the_outbox(agent):
    with pytest.raises(ValueError):
        service.create_request(
            agent, _spec(channel="sms", destination="not a number"), actor=Actor.staff(agent)
        )
