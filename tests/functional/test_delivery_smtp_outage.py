"""An email provider outage, with a real SMTP server (aiosmtpd) that starts late.

The request is created while nothing listens on the SMTP port: it exists, the first attempt
fails with plain words and a retry is scheduled. The server then starts and the worker runs
again at the retry time (``now`` is advanced, nothing sleeps): exactly one email arrives,
multipart with text and HTML, carrying the full link. Further runs send nothing.
"""

from datetime import timedelta

from sqlalchemy import select

from portal.audit import Actor
from portal.capture.service import RequestSpec, create_request
from portal.delivery import outbox, worker
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from tests.support.delivery import smtp_config, smtp_server
from tests.support.loopback import free_port


def _create(app, agent_id, channel, destination):
    with app.app_context():
        agent = db.session.get(StaffUser, agent_id)
        issued = create_request(
            agent,
            RequestSpec(
                kind="payment",
                reference="INV-2001",
                expiry_minutes=30,
                channel=channel,
                destination=destination,
                amount_minor=4999,
                currency="GBP",
            ),
            actor=Actor.staff(agent),
        )
        db.session.commit()
        return issued.request.id, issued.url


def test_email_outage_then_recovery_delivers_exactly_once(app_factory, make_staff):
    port = free_port()
    app = app_factory(**smtp_config(port))
    agent = make_staff("agent")
    # Nothing is listening on `port`: creating the request must neither wait nor fail.
    request_id, url = _create(app, agent.id, "email", "Jane.Customer@Example.com")
    controller, inbox = smtp_server(port)
    try:
        with app.app_context():
            assert db.session.get(CaptureRequest, request_id) is not None
            now = utcnow()
            counts = worker.run_once(now=now)
            assert (counts.claimed, counts.retrying, counts.sent) == (1, 1, 0)
            message = db.session.execute(select(DeliveryMessage)).scalar_one()
            assert message.status == "queued" and message.attempts == 1
            assert message.last_error == "Could not reach the email server. We will try again."
            assert message.next_attempt_at > now
            (summary,) = outbox.delivery_summary(request_id)
            assert summary["status_words"] == "Not delivered yet, trying again"
            assert summary["destination"] == "J•••@example.com"
            retry_at = message.next_attempt_at

        controller.start()  # the email server comes back

        with app.app_context():
            assert worker.run_once(now=retry_at - timedelta(seconds=1)).claimed == 0
            counts = worker.run_once(now=retry_at)
            assert (counts.sent, counts.retrying) == (1, 0)
            assert len(inbox.messages) == 1
            email = inbox.messages[0]
            assert inbox.envelopes[0][1] == ["Jane.Customer@example.com"]
            assert email.get_content_type() == "multipart/alternative"
            text, html = email.iter_parts()
            assert text.get_content_type() == "text/plain"
            assert html.get_content_type() == "text/html"
            assert url in text.get_content()
            assert f'<a href="{url}">{url}</a>' in html.get_content()
            assert email["Subject"].endswith("your secure link from our call")

            message = db.session.execute(select(DeliveryMessage)).scalar_one()
            assert message.status == "sent" and message.attempts == 2
            assert message.provider_message_id == email["Message-ID"].strip()
            assert message.last_error is None
            outcomes = db.session.execute(
                select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.attempt_number)
            ).scalars()
            assert list(outcomes) == ["failed", "sent"]

            # Nothing more, however often the worker runs.
            for later in (retry_at, retry_at + timedelta(hours=1), retry_at + timedelta(days=2)):
                assert worker.run_once(now=later).claimed == 0
            assert len(inbox.messages) == 1
            (summary,) = outbox.delivery_summary(request_id)
            assert summary["status"] == "sent" and summary["attempts"] == 2
    finally:
        if getattr(controller, "_thread", None) is not None:
            controller.stop()
