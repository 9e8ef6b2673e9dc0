"""An SMS provider outage, through the real Twilio SDK against a local stand-in for Twilio's
Messages API: down then back delivers exactly once; a permanent error fails at once in plain
words the agent sees; resending then works."""

from datetime import timedelta

from sqlalchemy import select

from portal.audit import Actor
from portal.capture.service import RequestSpec, create_request, resend
from portal.delivery import outbox, worker
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from tests.support.delivery import FakeTwilio

PHONE = "07911 123456"


def _create(app, agent_id, destination=PHONE):
    with app.app_context():
        agent = db.session.get(StaffUser, agent_id)
        issued = create_request(
            agent,
            RequestSpec(
                kind="payment",
                reference="ACC-77",
                expiry_minutes=30,
                channel="sms",
                destination=destination,
                amount_minor=2500,
                currency="GBP",
            ),
            actor=Actor.staff(agent),
        )
        db.session.commit()
        return issued.request.id, issued.url


def _messages(request_id):
    return (
        db.session.execute(
            select(DeliveryMessage)
            .where(DeliveryMessage.capture_request_id == request_id)
            .order_by(DeliveryMessage.id)
        )
        .scalars()
        .all()
    )


def test_provider_down_then_back_delivers_exactly_once(app_factory, make_staff):
    with FakeTwilio() as twilio:
        app = app_factory(**twilio.config())
        agent = make_staff("agent")
        twilio.mode = "503"
        request_id, url = _create(app, agent.id)
        with app.app_context():
            now = utcnow()
            assert worker.run_once(now=now).retrying == 1
            (message,) = _messages(request_id)
            assert message.status == "queued"
            assert message.last_error == (
                "The text message service is not available just now. We will try again."
            )
            assert message.last_error_code == "twilio_http_503"
            first_retry = message.next_attempt_at

            twilio.mode = "500"  # still down at the first retry
            assert worker.run_once(now=first_retry).retrying == 1
            (message,) = _messages(request_id)
            second_retry = message.next_attempt_at
            assert second_retry - first_retry >= timedelta(seconds=20)  # backing off
            assert twilio.received == []

            twilio.mode = "ok"  # back
            assert worker.run_once(now=second_retry).sent == 1
            for later in (second_retry, second_retry + timedelta(hours=2)):
                assert worker.run_once(now=later).claimed == 0
            assert len(twilio.received) == 1
            (form,) = twilio.received
            assert form["To"] == "+447911123456" and form["From"] == "+447700900001"
            assert url in form["Body"]
            (message,) = _messages(request_id)
            assert message.status == "sent" and message.attempts == 3
            assert message.provider_message_id.startswith("SM")
            (summary,) = outbox.delivery_summary(request_id)
            assert summary["status_words"] == "Sent" and summary["last_error"] is None
        assert twilio.requests == 3


def test_an_invalid_number_fails_at_once_and_a_resend_works(app_factory, make_staff):
    with FakeTwilio() as twilio:
        app = app_factory(**twilio.config())
        agent = make_staff("agent")
        twilio.mode = "invalid"
        request_id, first_url = _create(app, agent.id)
        with app.app_context():
            now = utcnow()
            counts = worker.run_once(now=now)
            assert (counts.failed, counts.retrying) == (1, 0)
            (message,) = _messages(request_id)
            assert message.status == "failed" and message.attempts == 1
            assert message.last_error == (
                "The mobile number is not valid. Check it with the customer and send again."
            )
            assert "7911" not in message.last_error  # Twilio's own text quoted the number
            assert worker.run_once(now=now + timedelta(days=1)).claimed == 0

            (summary,) = outbox.delivery_summary(request_id)
            assert summary["status"] == "failed"
            assert summary["status_words"] == "Not delivered"
            assert summary["last_error"].startswith("The mobile number is not valid")
            assert summary["destination"] == "+44 7••• ••• 456"

            # The agent checks the number with the customer and sends again.
            twilio.mode = "ok"
            request = db.session.get(CaptureRequest, request_id)
            issued = resend(request, "sms", "07912 345678", actor=Actor.staff(request.created_by))
            db.session.commit()
            assert issued.url != first_url
            assert worker.run_once(now=utcnow() + timedelta(seconds=1)).sent == 1
            failed, sent = _messages(request_id)
            assert (failed.status, sent.status) == ("failed", "sent")
            (form,) = twilio.received
            assert form["To"] == "+447912345678" and issued.url in form["Body"]
            assert first_url not in form["Body"]
            summary = outbox.delivery_summary(request_id)
            assert [item["status"] for item in summary] == ["failed", "sent"]
