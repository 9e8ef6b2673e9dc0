"""The webhook worker against a real HTTP receiver on 127.0.0.1 (allow-listed): signatures
that ``standardwebhooks`` verifies, retries, ordering per request, backoff and abandonment,
disabling an endpoint that keeps failing, and secret rotation. Time moves by updating rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook, WebhookVerificationError

from portal.extensions import db
from portal.models.hooks import HookAttempt, HookEndpoint, HookSecret
from portal.models.types import utcnow
from tests.support.capture import create_direct
from tests.support.hooks import deliveries, make_due, receiver, register, work  # noqa: F401

REQUEST_TYPES = ["request.created", "request.sent", "request.revoked"]


@pytest.fixture
def hook_app(app_factory, receiver):  # noqa: F811  (the fixture imported above)
    return app_factory(HOOKS_ALLOWED_HOSTS=[receiver.allow])


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def test_signed_delivery_verifies_at_the_receiver(hook_app, receiver, agent):  # noqa: F811
    _, secret = register(hook_app, receiver.url, REQUEST_TYPES)
    public_id, _ = create_direct(hook_app, agent.id)
    assert work(hook_app)["succeeded"] == 2
    assert receiver.types() == ["request.created", "request.sent"]
    for item in receiver.received:
        event = Webhook(secret).verify(item.body, item.headers)
        assert item.headers["webhook-id"] == event["id"]
        assert event["data"]["request"]["id"] == public_id
    assert {d.status for d in deliveries(hook_app)} == {"succeeded"}
    tampered = receiver.received[0].body.replace(b"created", b"revoked")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, receiver.received[0].headers)


def test_a_500_is_retried_with_the_same_id_then_succeeds(hook_app, receiver, agent):  # noqa: F811
    register(hook_app, receiver.url, ["request.created"])
    create_direct(hook_app, agent.id)
    receiver.answers = [500]
    assert work(hook_app)["retrying"] == 1
    [delivery] = deliveries(hook_app)
    assert (delivery.status, delivery.last_status_code) == ("failed", 500)
    assert delivery.next_attempt_at > utcnow()
    assert work(hook_app)["claimed"] == 0  # not due yet
    make_due(hook_app)
    assert work(hook_app)["succeeded"] == 1
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    with hook_app.app_context():
        attempts = db.session.execute(select(HookAttempt).order_by(HookAttempt.id)).scalars()
        assert [(a.status_code, a.succeeded) for a in attempts] == [(500, False), (200, True)]


def test_a_later_event_waits_for_an_earlier_one_of_the_same_request(hook_app, receiver, agent):  # noqa: F811
    register(hook_app, receiver.url, REQUEST_TYPES)
    create_direct(hook_app, agent.id)
    other, _ = create_direct(hook_app, agent.id)
    receiver.answers = [503]  # the first request's "created" fails
    counts = work(hook_app)
    # The first request's "sent" is held back; the other request is not.
    assert counts == {"claimed": 3, "succeeded": 2, "retrying": 1, "abandoned": 0}
    assert work(hook_app)["claimed"] == 0
    make_due(hook_app)
    work(hook_app)
    work(hook_app)
    by_request: dict[str, list[str]] = {}
    for item in receiver.received[1:]:
        event = item.event
        by_request.setdefault(event["data"]["request"]["id"], []).append(event["type"])
    for types in by_request.values():
        assert types == ["request.created", "request.sent"]
    assert {d.status for d in deliveries(hook_app)} == {"succeeded"}


def test_backoff_grows_and_gives_up_after_three_days(hook_app, receiver, agent):  # noqa: F811
    register(hook_app, receiver.url, ["request.created"])
    create_direct(hook_app, agent.id)
    receiver.answers = [500] * 50
    waits = []
    for _ in range(4):
        before = utcnow()
        work(hook_app)
        [delivery] = deliveries(hook_app)
        waits.append((delivery.next_attempt_at - before).total_seconds())
        make_due(hook_app)
    # base 10 s, doubling, plus up to 25% jitter
    assert 10 <= waits[0] < 13.5 and 20 <= waits[1] < 26 and 40 <= waits[2] < 51
    assert waits[3] > waits[2]
    # Three days after the event: the next failure is the last.
    make_due(hook_app, give_up_at=utcnow() + timedelta(seconds=5))
    assert work(hook_app)["abandoned"] == 1
    [delivery] = deliveries(hook_app)
    assert delivery.status == "abandoned" and delivery.last_error == "answered HTTP 500"
    make_due(hook_app)
    assert work(hook_app)["claimed"] == 0


def test_an_endpoint_failing_for_long_enough_is_disabled_and_admins_told(
    app_factory,
    receiver,  # noqa: F811
    agent,
    make_staff,
):
    app = app_factory(
        HOOKS_ALLOWED_HOSTS=[receiver.allow],
        HOOKS_DISABLE_AFTER_FAILURES=3,
        HOOKS_DISABLE_AFTER_HOURS=24,
    )
    admin = make_staff("admin")
    with app.app_context():
        from portal.models.staff import StaffUser

        db.session.get(StaffUser, admin.id).email = "admin@example.co.uk"
        db.session.commit()
    endpoint_id, _ = register(app, receiver.url, ["request.created"])
    create_direct(app, agent.id)
    receiver.answers = [500] * 10
    for _ in range(3):
        work(app)
        make_due(app)
    with app.app_context():
        endpoint = db.session.get(HookEndpoint, endpoint_id)
        assert endpoint.enabled and endpoint.consecutive_failures == 3  # not yet 24 hours
        db.session.execute(
            update(HookEndpoint).values(failing_since=utcnow() - timedelta(hours=25))
        )
        db.session.commit()
    work(app)
    with app.app_context():
        from portal.models.audit import AuditEvent
        from portal.models.delivery import DeliveryMessage
        from portal.models.security_notification import SecurityNotification

        endpoint = db.session.get(HookEndpoint, endpoint_id)
        assert (endpoint.enabled, endpoint.disabled_reason) == (False, "failing")
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert "hooks.endpoint_disabled" in actions
        [notice] = db.session.execute(select(SecurityNotification)).scalars().all()
        assert notice.kind == "webhook_endpoint_disabled" and notice.recipients == 1
        [message] = db.session.execute(select(DeliveryMessage)).scalars().all()
        from portal.delivery.staff_notices import render_staff_notice

        email = render_staff_notice(message)
        assert "webhook endpoint was disabled" in email.subject
        assert "127.0.0.1" in email.text_body and "4 delivery attempts" in email.text_body
        assert f"/backoffice/webhooks/{endpoint_id}" in email.text_body
    make_due(app)
    assert work(app)["claimed"] == 0  # a disabled endpoint gets nothing


def test_rotation_signs_with_both_secrets_during_the_overlap(hook_app, receiver, agent):  # noqa: F811
    endpoint_id, old = register(hook_app, receiver.url, ["request.created"])
    with hook_app.app_context():
        from portal import audit
        from portal.hooks import endpoints

        new = endpoints.rotate_secret(db.session.get(HookEndpoint, endpoint_id), audit.CLI)
        db.session.commit()
    assert new != old and new.startswith("whsec_")
    create_direct(hook_app, agent.id)
    work(hook_app)
    item = receiver.received[-1]
    assert len(item.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(item.body, item.headers)
    Webhook(new).verify(item.body, item.headers)

    with hook_app.app_context():  # the overlap window ends
        db.session.execute(
            update(HookSecret)
            .where(HookSecret.expires_at.is_not(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    create_direct(hook_app, agent.id)
    work(hook_app)
    item = receiver.received[-1]
    Webhook(new).verify(item.body, item.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(item.body, item.headers)


def test_the_secret_is_sealed_at_rest(hook_app, receiver):  # noqa: F811
    _, secret = register(hook_app, receiver.url, ["request.created"])
    with hook_app.app_context():
        [row] = db.session.execute(select(HookSecret)).scalars().all()
        assert secret.encode() not in row.ciphertext
        assert secret.removeprefix("whsec_").encode() not in row.ciphertext


def test_cli_create_replay_disable_enable(hook_app, receiver, agent):  # noqa: F811
    runner = hook_app.test_cli_runner()
    made = runner.invoke(
        args=["hooks", "endpoints", "create", receiver.url, "--event", "request.created"]
    )
    assert made.exit_code == 0, made.output
    assert "whsec_" in made.output
    create_direct(hook_app, agent.id)
    assert "succeeded 1" in runner.invoke(args=["hooks", "work", "--once"]).output
    [delivery] = deliveries(hook_app)
    assert runner.invoke(args=["hooks", "replay", str(delivery.id)]).exit_code == 0
    assert "succeeded 1" in runner.invoke(args=["hooks", "work", "--once"]).output
    assert len(receiver.received) == 2
    endpoint_id = str(delivery.endpoint_id)
    assert "disabled" in runner.invoke(args=["hooks", "endpoints", "disable", endpoint_id]).output
    assert "disabled (admin)" in runner.invoke(args=["hooks", "endpoints", "list"]).output
    assert "enabled" in runner.invoke(args=["hooks", "endpoints", "enable", endpoint_id]).output
    rotated = runner.invoke(args=["hooks", "endpoints", "rotate-secret", endpoint_id])
    assert "whsec_" in rotated.output
    refused = runner.invoke(args=["hooks", "endpoints", "create", "http://127.0.0.1:1/x"])
    assert refused.exit_code != 0 and "https://" in refused.output


def test_the_worker_checks_the_address_on_every_connection(app_factory, receiver, agent):  # noqa: F811
    """Registered while its host was allow-listed; the worker of an app without the allow-list
    refuses to connect to loopback, and the attempt says why."""
    url = f"https://127.0.0.1:{receiver.port}/hooks"
    register(app_factory(HOOKS_ALLOWED_HOSTS=[receiver.allow]), url, ["request.created"])
    app = app_factory()
    create_direct(app, agent.id)
    assert work(app)["retrying"] == 1
    [delivery] = deliveries(app)
    assert delivery.last_error == "refused: it is a loopback address"
    assert delivery.last_status_code is None
    assert receiver.received == []


def test_events_wait_while_disabled_and_go_once_enabled(hook_app, receiver, agent):  # noqa: F811
    from portal import audit
    from portal.hooks import endpoints

    endpoint_id, _ = register(hook_app, receiver.url, ["request.created", "request.revoked"])
    public_id, _ = create_direct(hook_app, agent.id)
    with hook_app.app_context():
        endpoints.disable(db.session.get(HookEndpoint, endpoint_id), audit.CLI)
        db.session.commit()
    assert work(hook_app)["claimed"] == 0
    create_direct(hook_app, agent.id)  # while disabled: not queued for it at all
    assert len(deliveries(hook_app)) == 1
    with hook_app.app_context():
        endpoints.enable(db.session.get(HookEndpoint, endpoint_id), audit.CLI)
        db.session.commit()
    assert work(hook_app)["succeeded"] == 1
    assert receiver.received[0].event["data"]["request"]["id"] == public_id
