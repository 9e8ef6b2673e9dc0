"""The console's live-status API: ETags, progress, expiry on read, sessions ending, and
nothing captured ever leaving it."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.support.capture import answer_identity, create_direct, expire, load, path_of, press_start
from tests.support.web import login


def _status(client, public_id):
    return client.get(f"/agent/api/requests/{public_id}/status").get_json()


def test_progress_is_reported_step_by_step(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    customer = app.test_client()
    seen = [_status(client, public_id)["label"]]
    customer.get(path_of(url))
    seen.append(_status(client, public_id)["label"])
    press_start(customer, url)
    started = _status(client, public_id)
    seen.append(started["label"])
    answer_identity(customer, url, "AB1 2CD")
    assert "1 wrong answer so far" in _status(client, public_id)["detail"]
    answer_identity(customer, url, "SW1A 1AA")
    final = _status(client, public_id)
    seen.append(final["label"])
    assert seen == [
        "Link sent",
        "Link opened",
        "Started on the customer's device",
        "Identity confirmed",
    ]
    assert [s["key"] for s in final["steps"] if s["done"]] == [
        "sent",
        "opened",
        "started",
        "verified",
    ]
    assert final["actions"] == {"revoke": True, "extend": True, "resend": False}
    assert final["readback_code"].replace(" ", "") == load(app, public_id).readback_code


def test_etag_and_304(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    first = client.get("/agent/api/requests")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-store"
    etag = first.headers["ETag"]
    again = client.get("/agent/api/requests", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    app.test_client().get(path_of(url))  # the customer opens the link
    changed = client.get("/agent/api/requests", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["mine"][0]["status"] == "opened"
    single = client.get(f"/agent/api/requests/{public_id}/status")
    assert (
        client.get(
            f"/agent/api/requests/{public_id}/status",
            headers={"If-None-Match": single.headers["ETag"]},
        ).status_code
        == 304
    )


def test_expiry_is_shown_on_read_and_persisted(app, logged_in):
    client, agent = logged_in("agent")
    public_id, _url = create_direct(app, agent.id)
    expire(app, public_id, ago=timedelta(seconds=2))
    data = client.get("/agent/api/requests").get_json()["mine"][0]
    assert data["status"] == "expired" and data["label"] == "Expired"
    assert data["actions"] == {"revoke": False, "extend": False, "resend": False}
    assert load(app, public_id).status == "expired"


def test_session_end_gives_401_json(app, logged_in):
    client, _agent = logged_in("agent")
    from tests.support.web import csrf_from

    token = csrf_from(client.get("/agent/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    response = client.get("/agent/api/requests", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_authenticated"


def test_nothing_secret_or_captured_is_exposed(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    customer = app.test_client()
    press_start(customer, url)
    answer_identity(customer, url, "SW1A 1AA")
    row = load(app, public_id)
    body = json.dumps(client.get("/agent/api/requests").get_json())
    page = client.get("/agent/").get_data(as_text=True)
    for secret in (row.link_nonce_hash, row.identity_hash, row.bound_secret_hash, "SW1A"):
        assert secret not in body and secret not in page
    assert path_of(url) not in body and path_of(url) not in page


def test_console_polls_from_a_static_script(app, logged_in):
    client, _agent = logged_in("agent")
    page = client.get("/agent/").get_data(as_text=True)
    assert 'src="/static/js/agent/console.js" nonce="' in page
    assert 'data-poll-url="/agent/api/requests"' in page
    csp = client.get("/agent/").headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp


def test_other_processes_see_the_same_state(app_factory, make_staff):
    """Two app instances (as two processes would be) share nothing but the database."""
    first, second = app_factory(), app_factory()
    agent = make_staff("agent")
    public_id, url = create_direct(first, agent.id)
    customer = first.test_client()
    press_start(customer, url)
    watcher = second.test_client()
    login(watcher, agent)
    assert _status(watcher, public_id)["label"] == "Started on the customer's device"
