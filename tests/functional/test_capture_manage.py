"""Revoke, extend and resend from the agent's panel; who may manage which request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.capture import (
    answer_identity,
    audit_actions,
    create_direct,
    create_via_console,
    expire,
    load,
    path_of,
    press_start,
)
from tests.support.web import csrf_from, login


def _post(client, url, data=None):
    token = csrf_from(client.get("/agent/").get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _flash(client) -> str:
    return client.get("/agent/").get_data(as_text=True).replace("&#39;", "'")


@pytest.fixture
def agent_and_link(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    return client, agent, public_id, url


def test_revoke_stops_the_link(app, agent_and_link):
    client, _agent, public_id, url = agent_and_link
    response = _post(client, f"/agent/requests/{public_id}/revoke")
    assert response.status_code == 302
    assert "Request revoked" in _flash(client)
    row = load(app, public_id)
    assert row.status == "revoked" and row.status_reason == "revoked_by_agent"
    assert app.test_client().get(path_of(url)).status_code == 410
    assert "capture.revoked" in audit_actions(app, public_id)
    # Twice: a clear message, nothing changes.
    _post(client, f"/agent/requests/{public_id}/revoke")
    assert "has finished (revoked)" in _flash(client)


def test_revoke_after_verification_also_stops_the_bound_browser(app, agent_and_link):
    client, _agent, public_id, url = agent_and_link
    customer = app.test_client()
    press_start(customer, url)
    answer_identity(customer, url, "SW1A 1AA")
    _post(client, f"/agent/requests/{public_id}/revoke")
    assert customer.get(path_of(url) + "/summary").status_code == 410


def test_revoke_cancels_queued_messages(app, logged_in):
    client, _agent = logged_in("agent")
    create_via_console(client, channel="sms", destination="07700 900123")
    public_id = client.get("/agent/api/requests").get_json()["mine"][0]["id"]
    _post(client, f"/agent/requests/{public_id}/revoke")
    [message] = client.get(f"/agent/api/requests/{public_id}/status").get_json()["delivery"]
    assert message["status"] == "cancelled"


def test_extend_adds_time_within_policy(app, agent_and_link):
    client, _agent, public_id, _url = agent_and_link
    before = load(app, public_id)
    response = _post(client, f"/agent/requests/{public_id}/extend", {"minutes": "30"})
    assert response.status_code == 302
    assert "Extended" in _flash(client)
    after = load(app, public_id)
    assert after.expires_at - before.expires_at == timedelta(minutes=30)
    assert after.extension_count == 1
    # 15 + 30 = 45 of the 60 allowed: the next extension is capped at the limit.
    _post(client, f"/agent/requests/{public_id}/extend", {"minutes": "30"})
    capped = load(app, public_id)
    assert capped.expires_at == capped.link_issued_at + timedelta(minutes=60)
    _post(client, f"/agent/requests/{public_id}/extend", {"minutes": "5"})
    assert "longest life allowed" in _flash(client)
    assert audit_actions(app, public_id).count("capture.extended") == 2


def test_extend_refuses_odd_amounts_and_expired_requests(app, agent_and_link):
    client, _agent, public_id, _url = agent_and_link
    assert (
        _post(client, f"/agent/requests/{public_id}/extend", {"minutes": "600"}).status_code == 400
    )
    expire(app, public_id)
    _post(client, f"/agent/requests/{public_id}/extend", {"minutes": "5"})
    assert "time is up" in _flash(client)
    assert load(app, public_id).status == "expired"


def test_resend_by_copy_link_replaces_the_old_link(app, agent_and_link):
    client, _agent, public_id, url = agent_and_link
    response = _post(client, f"/agent/requests/{public_id}/resend", {"channel": "copy"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Link ready" in page
    new_path = page.split('id="issued-link-url" class="copy-source" value="', 1)[1].split('"')[0]
    assert new_path != url
    assert app.test_client().get(path_of(url)).status_code == 410
    assert app.test_client().get(path_of(new_path)).status_code == 200
    assert load(app, public_id).resend_count == 1
    actions = audit_actions(app, public_id)
    replaced = actions.index("capture.link_replaced")
    assert actions[replaced + 1] == "capture.sent"


def test_resend_by_another_channel(app, agent_and_link):
    client, _agent, public_id, _url = agent_and_link
    response = _post(
        client,
        f"/agent/requests/{public_id}/resend",
        {"channel": "email", "destination": "pat@example.com"},
    )
    assert response.status_code == 302
    assert "A new link is on its way" in _flash(client)
    [message] = client.get(f"/agent/api/requests/{public_id}/status").get_json()["delivery"]
    assert message["channel"] == "email" and "pat@" not in message["destination"]


def test_resend_with_a_bad_destination_changes_nothing(app, agent_and_link):
    client, _agent, public_id, url = agent_and_link
    _post(client, f"/agent/requests/{public_id}/resend", {"channel": "sms", "destination": "12"})
    assert "was not re-sent" in _flash(client)
    assert app.test_client().get(path_of(url)).status_code == 200
    assert load(app, public_id).resend_count == 0


def test_resend_is_refused_once_the_customer_started(app, agent_and_link):
    client, _agent, public_id, url = agent_and_link
    press_start(app.test_client(), url)
    _post(client, f"/agent/requests/{public_id}/resend", {"channel": "copy"})
    assert "already started on their device" in _flash(client)
    assert load(app, public_id).resend_count == 0


def test_agents_cannot_touch_each_others_requests(app, make_staff, agent_and_link):
    _client, _agent, public_id, url = agent_and_link
    other = app.test_client()
    login(other, make_staff("agent"))
    for action, data in (
        ("revoke", {}),
        ("extend", {"minutes": "5"}),
        ("resend", {"channel": "copy"}),
    ):
        assert _post(other, f"/agent/requests/{public_id}/{action}", data).status_code == 404
    assert other.get(f"/agent/api/requests/{public_id}/status").status_code == 404
    assert public_id not in other.get("/agent/").get_data(as_text=True)
    assert load(app, public_id).status == "sent"


def test_supervisor_sees_and_manages_the_team(app, make_staff):
    agent = make_staff("agent", team="North")
    outsider = make_staff("agent", team="South")
    supervisor = make_staff("supervisor", team="North")
    mine, _ = create_direct(app, agent.id)
    theirs, _ = create_direct(app, outsider.id)
    client = app.test_client()
    login(client, supervisor)
    listing = client.get("/agent/api/requests").get_json()
    assert [p["id"] for p in listing["team"]] == [mine]
    assert client.get(f"/agent/api/requests/{theirs}/status").status_code == 404
    assert "Your team" in client.get("/agent/").get_data(as_text=True)
    assert _post(client, f"/agent/requests/{mine}/revoke").status_code == 302
    assert load(app, mine).status == "revoked"
    assert _post(client, f"/agent/requests/{theirs}/revoke").status_code == 404


def test_manage_posts_need_csrf(app, agent_and_link):
    client, _agent, public_id, _url = agent_and_link
    assert client.post(f"/agent/requests/{public_id}/revoke").status_code == 400
    assert load(app, public_id).status == "sent"
