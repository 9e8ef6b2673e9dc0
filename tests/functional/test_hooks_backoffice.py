"""The back office's webhooks pages, as an admin uses them: register (after re-authenticating)
and see the secret once, change the events, disable and enable, send a test event, read the
delivery log, send a delivery again, rotate the secret. Every change is audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.hooks import HookEndpoint
from tests.support.backoffice_write import reauth
from tests.support.hooks import deliveries, receiver, work  # noqa: F401
from tests.support.web import csrf_from, login, post_form

_SECRET = re.compile(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>")


@pytest.fixture
def hook_app(app_factory, receiver):  # noqa: F811
    return app_factory(HOOKS_ALLOWED_HOSTS=[receiver.allow])


@pytest.fixture
def admin(hook_app, make_staff):
    client = hook_app.test_client()
    user = make_staff("admin", mfa=True)
    login(client, user)
    return client, user


def _endpoint(app) -> HookEndpoint:
    with app.app_context():
        row = db.session.execute(select(HookEndpoint)).scalar_one()
        db.session.expunge(row)
        return row


def _actions(app) -> list[str]:
    with app.app_context():
        query = select(AuditEvent.action).where(AuditEvent.action.like("hooks.%"))
        return list(db.session.execute(query.order_by(AuditEvent.seq)).scalars())


def _register(client, user, url: str, team: str = "*"):
    form = {"url": url, "description": "CRM", "team": team, "event_types": ["request.created"]}
    asked = post_form(client, "/backoffice/webhooks/new", form)
    assert asked.status_code == 303 and "/backoffice/reauth" in asked.headers["Location"]
    assert reauth(client, user).status_code == 303
    return post_form(client, "/backoffice/webhooks/new", form)


def test_register_shows_the_secret_once_and_it_signs(hook_app, admin, receiver):  # noqa: F811
    client, user = admin
    assert "Add an endpoint" in client.get("/backoffice/webhooks").get_data(as_text=True)
    response = _register(client, user, receiver.url)
    assert response.status_code == 200
    secret = _SECRET.search(response.get_data(as_text=True)).group(1)
    endpoint = _endpoint(hook_app)
    page = client.get(f"/backoffice/webhooks/{endpoint.id}").get_data(as_text=True)
    assert secret not in page and secret not in client.get("/backoffice/webhooks").get_data(
        as_text=True
    )

    sent = post_form(
        client,
        f"/backoffice/webhooks/{endpoint.id}/test",
        {},
        page=f"/backoffice/webhooks/{endpoint.id}",
    )
    assert sent.status_code == 303
    assert work(hook_app)["succeeded"] == 1
    [item] = receiver.received
    assert Webhook(secret).verify(item.body, item.headers)["type"] == "endpoint.test"
    log = client.get(f"/backoffice/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "endpoint.test" in log and "Delivered" in log and "Send again" in log

    [delivery] = deliveries(hook_app)
    again = post_form(
        client,
        f"/backoffice/webhooks/deliveries/{delivery.id}/replay",
        {},
        page=f"/backoffice/webhooks/{endpoint.id}",
    )
    assert again.status_code == 303
    work(hook_app)
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert _actions(hook_app) == [
        "hooks.endpoint_created",
        "hooks.test_event_queued",
        "hooks.delivery_replayed",
    ]


def test_change_events_disable_enable_and_rotate(hook_app, admin, receiver):  # noqa: F811
    client, user = admin
    first = _SECRET.search(_register(client, user, receiver.url).get_data(as_text=True)).group(1)
    endpoint_id = _endpoint(hook_app).id
    detail = f"/backoffice/webhooks/{endpoint_id}"
    page = client.get(detail).get_data(as_text=True)
    token = csrf_from(page)
    changed = client.post(
        f"{detail}/events",
        data={"csrf_token": token, "event_types": ["request.created", "payment.succeeded"]},
    )
    assert changed.status_code == 303
    assert _endpoint(hook_app).event_types == ["payment.succeeded", "request.created"]
    assert client.post(f"{detail}/disable", data={"csrf_token": token}).status_code == 303
    assert not _endpoint(hook_app).enabled
    assert "Disabled" in client.get("/backoffice/webhooks").get_data(as_text=True)
    assert client.post(f"{detail}/enable", data={"csrf_token": token}).status_code == 303
    assert _endpoint(hook_app).enabled
    rotated = client.post(f"{detail}/rotate", data={"csrf_token": token})
    assert rotated.status_code == 200
    second = _SECRET.search(rotated.get_data(as_text=True)).group(1)
    assert second != first
    assert _actions(hook_app) == [
        "hooks.endpoint_created",
        "hooks.endpoint_updated",
        "hooks.endpoint_disabled",
        "hooks.endpoint_enabled",
        "hooks.secret_rotated",
    ]


def test_an_internal_address_is_refused_with_words(hook_app, admin):
    client, user = admin
    response = _register(client, user, "http://169.254.169.254/latest/meta-data")
    assert response.status_code == 400
    assert "https://" in response.get_data(as_text=True)
    with hook_app.app_context():
        assert db.session.execute(select(HookEndpoint)).first() is None


def test_a_post_without_its_csrf_token_changes_nothing(hook_app, admin, receiver):  # noqa: F811
    client, user = admin
    _register(client, user, receiver.url)
    endpoint_id = _endpoint(hook_app).id
    assert client.post(f"/backoffice/webhooks/{endpoint_id}/disable").status_code == 400
    assert _endpoint(hook_app).enabled


def test_every_team_is_a_choice_never_an_empty_box(hook_app, admin, receiver, make_staff):  # noqa: F811
    """Proves: an endpoint hears one team's requests unless every team is chosen outright;
    leaving the choice alone is refused, and nothing is registered."""
    make_staff("agent", team="North")
    client, user = admin
    page = client.get("/backoffice/webhooks/new").get_data(as_text=True)
    assert "Team North" in page and "Every team&#39;s requests" in page
    form = {
        "url": receiver.url,
        "description": "CRM",
        "team": "",
        "event_types": ["request.created"],
    }
    refused = post_form(client, "/backoffice/webhooks/new", form)
    assert refused.status_code == 400
    assert "Choose a team, or every team." in refused.get_data(as_text=True)
    with hook_app.app_context():
        assert db.session.execute(select(HookEndpoint)).first() is None
    assert _register(client, user, receiver.url, team="North").status_code == 200
    with hook_app.app_context():
        team = db.session.execute(select(HookEndpoint)).scalar_one().team
        assert team is not None and team.name == "North"
