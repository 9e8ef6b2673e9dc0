"""Queuing, reporting, cancelling and purging link messages (no provider is ever called)."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.audit import SYSTEM
from portal.delivery import outbox
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.delivery import DeliveryMessage
from portal.models.types import utcnow
from tests.support.capture import make_capture_request
from tests.support.loopback import free_port


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def _audit_rows(action):
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def test_queuing_writes_a_due_message_and_an_audit_row_without_personal_data(app, agent):
    with app.app_context():
        request, url = make_capture_request(agent.id)
        message = outbox.queue_link_message(request, url, "sms", "07911 123456", SYSTEM)
        db.session.commit()
        assert message.status == "queued" and message.attempts == 0
        assert message.destination == "+447911123456"
        assert message.destination_masked == "+44 7••• ••• 456"
        assert message.backend == "dev"
        assert message.sealed_link and url.rsplit("/", 1)[1] not in message.sealed_link
        assert outbox.render(message, request).link_url == url
        assert message.next_attempt_at <= utcnow()
        (row,) = _audit_rows("delivery.queued")
        assert row.target_id == request.public_id
        assert row.details == {"message_id": message.id, "channel": "sms", "backend": "dev"}
        written = json.dumps(row.details)
        assert "7911" not in written and url not in written


def test_queuing_never_contacts_the_provider(app_factory, make_staff):
    # Twilio "configured" at a port where nothing listens: queuing must not notice.
    app = app_factory(
        DELIVERY_SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="dev-only-token",
        TWILIO_FROM="+447700900001",
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}",
    )
    agent = make_staff("agent")
    with app.app_context():
        request, url = make_capture_request(agent.id)
        message = outbox.queue_link_message(request, url, "sms", "+447911123456", SYSTEM)
        db.session.commit()
        assert (message.status, message.attempts, message.backend) == ("queued", 0, "twilio")


def test_a_rolled_back_request_leaves_no_message(app, agent):
    with app.app_context():
        request, url = make_capture_request(agent.id)
        outbox.queue_link_message(request, url, "email", "a@example.com", SYSTEM)
        db.session.rollback()
        assert db.session.execute(select(DeliveryMessage)).first() is None


@pytest.mark.parametrize(
    ("channel", "destination", "words"),
    [
        ("sms", "020 7946 0018", "not a mobile number"),
        ("sms", "4111 1111 1111 1111", "looks like a card number"),
        ("email", "nobody@", "There must be something after the @-sign"),
        ("fax", "anything", "Unknown delivery channel"),
    ],
)
def test_bad_destinations_are_refused_in_plain_words(app, agent, channel, destination, words):
    with app.app_context():
        request, url = make_capture_request(agent.id)
        with pytest.raises(ValueError, match=words):
            outbox.queue_link_message(request, url, channel, destination, SYSTEM)


def test_links_must_be_full_addresses_on_our_own_site(app, agent):
    with app.app_context():
        request, _url = make_capture_request(agent.id)
        for bad in ["https://bit.ly/abc", "http://127.0.0.1:5000.evil.example/c/x", "/c/abc"]:
            with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
                outbox.queue_link_message(request, bad, "sms", "+447911123456", SYSTEM)


def test_a_disabled_channel_is_refused(app_factory, make_staff):
    app = app_factory(DELIVERY_EMAIL_BACKEND="disabled")
    agent = make_staff("agent")
    with app.app_context():
        request, url = make_capture_request(agent.id)
        with pytest.raises(ValueError, match="by email is switched off"):
            outbox.queue_link_message(request, url, "email", "a@example.com", SYSTEM)


def test_summary_shows_the_agent_status_but_never_the_body_or_full_destination(app, agent):
    with app.app_context():
        request, url = make_capture_request(agent.id)
        outbox.queue_link_message(request, url, "sms", "07911 123456", SYSTEM)
        outbox.queue_link_message(request, url, "email", "jane.doe@example.com", SYSTEM)
        db.session.commit()
        summary = outbox.delivery_summary(request.id)
    assert [item["channel"] for item in summary] == ["sms", "email"]
    assert summary[0]["destination"] == "+44 7••• ••• 456"
    assert summary[1]["destination"] == "j•••@example.com"
    assert {item["status"] for item in summary} == {"queued"}
    assert summary[0]["status_words"] == "Waiting to send"
    assert summary[0]["last_error"] is None and summary[0]["attempts"] == 0
    assert summary[0]["updated_at"].endswith("+00:00")
    flat = json.dumps(summary)
    assert url not in flat and "7911123456" not in flat and "jane.doe" not in flat


def test_cancel_pending_stops_queued_messages_only(app, agent):
    with app.app_context():
        request, url = make_capture_request(agent.id)
        queued = outbox.queue_link_message(request, url, "sms", "07911 123456", SYSTEM)
        sent = outbox.queue_link_message(request, url, "email", "a@example.com", SYSTEM)
        sent.status = "sent"
        db.session.commit()
        assert outbox.cancel_pending(request, "revoked", SYSTEM) == 1
        db.session.commit()
        db.session.refresh(queued)
        db.session.refresh(sent)
        assert queued.status == "cancelled" and queued.next_attempt_at is None
        assert queued.sealed_link is None, "a message that will never be sent forgets its link"
        assert sent.status == "sent"
        (row,) = _audit_rows("delivery.cancelled")
        assert row.details == {"messages": 1, "reason": "revoked"}
        assert outbox.cancel_pending(request, "revoked", SYSTEM) == 0


def test_purge_empties_old_final_messages_but_keeps_the_history(app, agent):
    with app.app_context():
        request, url = make_capture_request(agent.id)
        old = outbox.queue_link_message(request, url, "sms", "07911 123456", SYSTEM)
        fresh = outbox.queue_link_message(request, url, "sms", "07911 123456", SYSTEM)
        waiting = outbox.queue_link_message(request, url, "email", "a@example.com", SYSTEM)
        old.status, old.updated_at = "sent", utcnow() - timedelta(days=40)
        fresh.status = "sent"
        waiting.updated_at = utcnow() - timedelta(days=40)
        db.session.commit()
        assert outbox.purge_contents(utcnow() - timedelta(days=30)) == 1
        db.session.commit()
        for message in (old, fresh, waiting):
            db.session.refresh(message)
        assert old.destination is None and old.sealed_link is None and old.purged_at
        assert old.destination_masked == "+44 7••• ••• 456"
        assert fresh.destination and waiting.destination and waiting.sealed_link
