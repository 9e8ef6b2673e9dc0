"""Capture requests through /api/v1: created with the console's rules, owned by a named agent,
read back without personal data, listed page by page, and changed (revoke, extend, resend)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.security.validators import CARD_NUMBER_MESSAGE
from tests.support.api import api_call, make_api_key, payment_body
from tests.support.capture import audit_actions, create_direct, load, update_request

CARD = "4242 4242 4242 4242"


def _create(client, key, agent, **overrides):
    return api_call(client, "POST", "/requests", key, payment_body(agent.username, **overrides))


def test_a_copy_link_payment_request_is_created_for_the_agent_and_its_link_shown_once(
    app, client, key, agent
):
    response = _create(client, key, agent)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["object"] == "capture_request" and body["kind"] == "payment"
    assert body["status"] == "sent" and body["agent"] == agent.username
    assert body["amount"] == 1250 and body["currency"] == "GBP"
    assert body["link_url"].startswith("http") and "/c/" in body["link_url"]
    row = load(app, body["id"])
    assert row.created_by_id == agent.id and row.team_id == agent.team_id
    # Read again: the link is not kept, so it is never shown twice.
    again = api_call(client, "GET", f"/requests/{body['id']}", key).get_json()
    assert "link_url" not in again
    assert again["readback_code"] == body["readback_code"]


def test_the_audit_trail_names_the_key_as_actor(app, client, key, agent):
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    public_id = _create(client, key, agent).get_json()["id"]
    assert audit_actions(app, public_id)[:2] == ["capture.created", "capture.sent"]
    with app.app_context():
        row = db.session.query(AuditEvent).filter_by(action="capture.created").one()
        assert row.actor_label == f"api-key:{key[:18]} (CRM)"
        assert row.actor_role == "api_key" and row.actor_id is None
        assert row.ip == "127.0.0.1"


def test_an_sms_request_normalises_the_destination_and_queues_the_message(client, key, agent):
    response = _create(client, key, agent, channel="sms", destination="07700 900123")
    assert response.status_code == 201, response.get_json()
    assert "link_url" not in response.get_json()


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"reference": f"ACC {CARD}"}, "reference"),
        ({"purpose": f"Card {CARD}"}, "purpose"),
        ({"interaction_id": CARD}, "interaction_id"),
        ({"identity_value": CARD}, "identity_value"),
        ({"channel": "email", "destination": CARD}, "destination"),
    ],
)
def test_a_card_number_in_any_text_field_is_refused_and_nothing_is_created(
    app, client, key, agent, overrides, param
):
    response = _create(client, key, agent, **overrides)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert "card number" in error["message"]
    assert CARD not in response.get_data(as_text=True)
    assert "capture.created" not in audit_actions(app)


def test_the_card_number_refusal_is_the_shared_english_words(client, key, agent):
    """The words are marked for translation (``N_``) where they are written, and the console's
    forms show them translated; the API sends them as they are."""
    response = _create(client, key, agent, reference=f"ACC {CARD}")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == CARD_NUMBER_MESSAGE
    assert CARD_NUMBER_MESSAGE.startswith("This looks like a card number. Card details must")


@pytest.mark.parametrize(
    ("overrides", "param", "words"),
    [
        ({"amount": 29}, "amount", "smallest card payment"),
        ({"amount": 5_000_001}, "amount", "The most you can request"),
        ({"amount": "12.50"}, "amount", "integer"),
        ({"currency": "USD"}, "currency", "GBP only"),
        ({"purpose": ""}, "purpose", "what the payment is for"),
        ({"expiry_minutes": 61}, "expiry_minutes", "between 1 and 60"),
        ({"kind": "data"}, "field_set", "set of details"),
        ({"kind": "gift"}, "kind", "Must be one of"),
        ({"identity_value": "not a postcode!"}, "identity_value", "Identity check"),
        ({"channel": "sms"}, "destination", "mobile number"),
        ({"channel": "sms", "destination": "12"}, "destination", ""),
        ({"reference": None}, "reference", "null"),
        ({"surprise": 1}, "surprise", "not a field"),
        ({"reference": "ACC\u00001"}, "reference", "control or invisible"),
    ],
)
def test_the_consoles_rules_apply_and_the_error_names_the_field(
    client, key, agent, overrides, param, words
):
    response = _create(client, key, agent, **overrides)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["param"] == param
    assert words in error["message"]


def test_the_owner_must_be_an_active_creator_of_the_keys_team(app, client, key, make_staff):
    other_team = make_staff("agent", team="South")
    officer = make_staff("backoffice", team="North")
    for who, code in ((other_team, "agent_unknown"), (officer, "agent_not_allowed")):
        response = _create(client, key, who)
        assert response.status_code == 400
        assert response.get_json()["error"] == {
            "type": "invalid_request_error",
            "code": code,
            "message": response.get_json()["error"]["message"],
            "param": "agent",
        }
    missing = api_call(client, "POST", "/requests", key, {"kind": "payment", "channel": "copy"})
    assert missing.get_json()["error"]["param"] == "agent"
    nul = api_call(client, "POST", "/requests", key, payment_body("agent\u0000"))
    assert nul.status_code == 400 and nul.get_json()["error"]["param"] == "agent"


def test_a_key_sees_only_its_own_teams_requests(app, client, key, agent, make_staff):
    south_agent = make_staff("agent", team="South")
    theirs, _ = create_direct(app, south_agent.id)
    mine, _ = create_direct(app, agent.id)
    assert api_call(client, "GET", f"/requests/{mine}", key).status_code == 200
    hidden = api_call(client, "GET", f"/requests/{theirs}", key)
    missing = api_call(client, "GET", "/requests/ZZZZZZZZZZ", key)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    assert api_call(client, "POST", f"/requests/{theirs}/revoke", key).status_code == 404
    listed = api_call(client, "GET", "/requests", key).get_json()
    assert [item["id"] for item in listed["data"]] == [mine]


def test_reading_a_request_never_shows_personal_data_or_the_link(app, client, key, agent):
    public_id, url = create_direct(app, agent.id, interaction_id="CALL-1")
    body = api_call(client, "GET", f"/requests/{public_id}", key).get_json()
    text = str(body)
    assert "SW1A" not in text and url not in text and "Gas bill" not in text
    assert body["interaction_id"] == "CALL-1" and body["reference"] == "ACC-1001"
    assert body["payment"] is None and body["refunds"] == [] and body["disputes"] == []


def test_without_payments_read_the_payment_is_left_out(app, client, agent):
    key = make_api_key(app, scopes=["requests:read"])
    public_id, _ = create_direct(app, agent.id)
    body = api_call(client, "GET", f"/requests/{public_id}", key).get_json()
    assert "payment" not in body and "refunds" not in body


def test_a_data_request_lists_the_fields_captured_never_their_values(app, client, key, agent):
    from portal.extensions import db
    from portal.models.captured_data import DataSubmission
    from portal.models.types import utcnow

    public_id, _ = create_direct(
        app, agent.id, kind="data", field_set="contact", amount_minor=None, purpose=None
    )
    with app.app_context():
        row = load(app, public_id)
        db.session.add(
            DataSubmission(
                capture_request_id=row.id,
                field_set="contact",
                privacy_notice_version="v1",
                retention_class="personal_data",
                fields_received=["phone", "email"],
                submitted_at=utcnow(),
            )
        )
        db.session.commit()
    body = api_call(client, "GET", f"/requests/{public_id}", key).get_json()
    assert body["data"] == {"field_set": "contact", "fields_captured": ["email", "phone"]}


def test_list_pages_with_starting_after_or_the_cursor_and_filters(app, client, key, agent):
    from portal.models.types import utcnow

    ids = []
    start = utcnow() - timedelta(hours=1)
    for n in range(5):
        public_id, _ = create_direct(app, agent.id, reference=f"REF-{n}")
        update_request(app, public_id, created_at=start + timedelta(minutes=n))
        ids.append(public_id)
    newest_first = ids[::-1]
    first = api_call(client, "GET", "/requests?limit=2", key).get_json()
    assert [r["id"] for r in first["data"]] == newest_first[:2] and first["has_more"]
    second = api_call(client, "GET", f"/requests?limit=2&cursor={first['next_cursor']}", key)
    assert [r["id"] for r in second.get_json()["data"]] == newest_first[2:4]
    last = api_call(client, "GET", f"/requests?limit=2&starting_after={newest_first[3]}", key)
    assert [r["id"] for r in last.get_json()["data"]] == newest_first[4:]
    assert last.get_json() | {"data": []} == {
        "object": "list",
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }
    by_reference = api_call(client, "GET", "/requests?reference=REF-3", key).get_json()
    assert [r["id"] for r in by_reference["data"]] == [ids[3]]
    since = (start + timedelta(minutes=3)).isoformat()
    recent = api_call(client, "GET", "/requests", key, query_string=None)
    assert recent.status_code == 200
    ranged = client.get(
        "/api/v1/requests",
        query_string={"created_gte": since, "agent": agent.username, "status": "sent"},
        headers={"Authorization": f"Bearer {key}"},
    ).get_json()
    assert [r["id"] for r in ranged["data"]] == newest_first[:2]
    bad = api_call(client, "GET", "/requests?limit=500", key).get_json()["error"]
    assert bad["param"] == "limit"
    unknown = api_call(client, "GET", "/requests?starting_after=ZZZZZZZZZZ", key).get_json()
    assert unknown["error"]["param"] == "starting_after"


def test_revoke_extend_and_resend_go_through_the_capture_service(app, client, key, agent):
    public_id, _ = create_direct(app, agent.id)
    extended = api_call(client, "POST", f"/requests/{public_id}/extend", key, {"minutes": 10})
    assert extended.status_code == 200, extended.get_json()
    resent = api_call(client, "POST", f"/requests/{public_id}/resend", key, {"channel": "copy"})
    assert resent.status_code == 200 and "/c/" in resent.get_json()["link_url"]
    revoked = api_call(client, "POST", f"/requests/{public_id}/revoke", key)
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    again = api_call(client, "POST", f"/requests/{public_id}/revoke", key)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "request_state"
    assert "finished (revoked)" in again.get_json()["error"]["message"]
    actions = audit_actions(app, public_id)
    assert {"capture.extended", "capture.link_replaced", "capture.revoked"} <= set(actions)


def test_extend_needs_minutes(app, client, key, agent):
    public_id, _ = create_direct(app, agent.id)
    response = api_call(client, "POST", f"/requests/{public_id}/extend", key, {})
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == "minutes"


def test_the_agent_sees_the_request_live_in_their_console(app, key, agent):
    from tests.support.web import login

    api_client = app.test_client()
    public_id = _create(api_client, key, agent).get_json()["id"]
    console = app.test_client()
    login(console, agent)
    polled = console.get("/agent/api/requests", headers={"Accept": "application/json"})
    assert polled.status_code == 200 and public_id in polled.get_data(as_text=True)
