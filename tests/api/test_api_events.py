"""``GET /api/v1/requests/{id}/events``: the request's integration events, each exactly as its
webhook carries it, oldest first; another team's request answers 404."""

from __future__ import annotations

from tests.support.api import api_call, make_api_key
from tests.support.capture import create_direct, load


def _add_event(app, public_id: str, event_id: str, event_type: str, data: dict) -> None:
    from portal.extensions import db
    from portal.models.hooks import HookEvent

    row = load(app, public_id)
    with app.app_context():
        db.session.add(
            HookEvent(
                public_id=event_id,
                type=event_type,
                capture_request_id=row.id,
                capture_request_public_id=public_id,
                team_id=row.team_id,
                data=data,
            )
        )
        db.session.commit()


def test_events_are_listed_as_their_webhooks_carry_them(app, client, key, agent):
    from portal.extensions import db
    from portal.hooks.events import event_body, events_for_request
    from portal.models.capture import CaptureRequest

    public_id, _ = create_direct(app, agent.id)
    _add_event(app, public_id, "evt_1", "capture_request.created", {"id": public_id})
    _add_event(app, public_id, "evt_2", "capture_request.sent", {"id": public_id})
    response = api_call(client, "GET", f"/requests/{public_id}/events", key)
    assert response.status_code == 200
    body = response.get_json()
    with app.app_context():
        capture = db.session.query(CaptureRequest).filter_by(public_id=public_id).one()
        expected = [event_body(event) for event in events_for_request(capture)]
    assert body == {"object": "list", "data": expected, "has_more": False}
    # The team holds an API key, so creating the request recorded its own events first.
    assert [event["id"] for event in body["data"]][-2:] == ["evt_1", "evt_2"]
    assert body["data"][0]["type"] == "request.created"


def test_another_teams_events_are_not_found(app, client, make_staff):
    south = make_staff("agent", team="South")
    public_id, _ = create_direct(app, south.id)
    north_key = make_api_key(app, team="North")
    response = api_call(client, "GET", f"/requests/{public_id}/events", north_key)
    assert response.status_code == 404


def test_without_payments_read_no_money_is_listed(app, client, agent):
    """Proves: a key holding requests:read but not payments:read sees a request's events
    without payment, refund or dispute events and without amounts, as everywhere in the API."""
    reader = make_api_key(app, team="North", scopes=("requests:read",))
    public_id, _ = create_direct(app, agent.id)
    _add_event(app, public_id, "evt_p", "payment.succeeded", {"amount": 1250, "currency": "GBP"})
    _add_event(app, public_id, "evt_r", "refund.succeeded", {"refund": {"amount": 100}})
    listed = api_call(client, "GET", f"/requests/{public_id}/events", reader).get_json()["data"]
    assert [event["type"] for event in listed] == ["request.created", "request.sent"]
    assert all("amount" not in event["data"] for event in listed)
    everything = make_api_key(app, team="North", scopes=("requests:read", "payments:read"))
    full = api_call(client, "GET", f"/requests/{public_id}/events", everything).get_json()["data"]
    assert [event["id"] for event in full][-2:] == ["evt_p", "evt_r"]
    assert full[0]["data"]["amount"] == 1250


def test_an_erased_reference_is_blank_in_every_event_later_read_or_sent(app, client, key, agent):
    """Proves: an event stores no reference or interaction id; they are read from the request
    when the event is listed or delivered, so erasure (which blanks them) reaches every event."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.hooks import HookEvent

    public_id, _ = create_direct(app, agent.id, interaction_id="call-81")
    listed = api_call(client, "GET", f"/requests/{public_id}/events", key).get_json()["data"]
    assert listed[0]["data"]["request"]["reference"] == "ACC-1001"
    assert listed[0]["data"]["request"]["interaction_id"] == "call-81"
    with app.app_context():
        stored = [row.data for row in db.session.query(HookEvent).all()]
        assert "ACC-1001" not in str(stored) and "call-81" not in str(stored)
        row = db.session.query(CaptureRequest).filter_by(public_id=public_id).one()
        row.reference, row.interaction_id = None, None
        db.session.commit()
    listed = api_call(client, "GET", f"/requests/{public_id}/events", key).get_json()["data"]
    assert {event["data"]["request"]["reference"] for event in listed} == {None}
    assert {event["data"]["request"]["interaction_id"] for event in listed} == {None}
