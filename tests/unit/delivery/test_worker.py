"""The outbox worker on the embedded default (dev outbox) and against a closed SMTP port."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import workers
from portal.audit import SYSTEM
from portal.capture import states
from portal.delivery import claims, outbox, worker
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from portal.models.types import utcnow
from tests.support.capture import make_capture_request
from tests.support.delivery import smtp_config
from tests.support.loopback import free_port


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def _queue(app, staff_id, channel="sms", destination="07911 123456", **request_kwargs):
    with app.app_context():
        request, url = make_capture_request(staff_id, **request_kwargs)
        message = outbox.queue_link_message(request, url, channel, destination, SYSTEM)
        db.session.commit()
        return message.id, request.id, url


def _message(message_id):
    return db.session.get(DeliveryMessage, message_id)


def _attempts(message_id):
    return (
        db.session.execute(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.attempt_number)
        )
        .scalars()
        .all()
    )


def test_retry_delay_doubles_with_jitter_and_a_cap():
    for attempt, base in [(1, 10), (2, 20), (3, 40), (6, 320)]:
        delay = workers.retry_delay(attempt, 10, 600).total_seconds()
        assert base <= delay <= base * 1.25
    assert 600 <= workers.retry_delay(20, 10, 600).total_seconds() <= 750


def test_a_due_message_is_sent_once_and_recorded(app, agent):
    message_id, request_id, _url = _queue(app, agent.id)
    with app.app_context():
        counts = worker.run_once()
        assert counts.as_dict() == {
            "claimed": 1,
            "sent": 1,
            "retrying": 0,
            "failed": 0,
            "cancelled": 0,
        }
        message = _message(message_id)
        assert message.status == "sent" and message.attempts == 1
        assert message.provider_message_id == f"dev-{message_id}"
        assert message.claimed_by is None and message.sent_at is not None
        (attempt,) = _attempts(message_id)
        assert attempt.outcome == "sent" and attempt.finished_at is not None
        # The request's status is the capture service's to move (it queues the message and
        # marks the request sent together): the worker leaves it as it is.
        assert db.session.get(CaptureRequest, request_id).status == states.Status.CREATED
        (row,) = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "delivery.sent")
        ).scalars()
        assert row.actor_label == "delivery-worker"
        assert row.details == {"message_id": message_id, "channel": "sms", "attempt": 1}
        # Running again sends nothing more.
        assert worker.run_once().claimed == 0
        assert worker.run_once(now=utcnow() + timedelta(days=1)).claimed == 0
        assert len(_attempts(message_id)) == 1


def test_a_request_already_marked_sent_is_left_as_it_is(app, agent):
    message_id, request_id, _url = _queue(app, agent.id, status="sent")
    with app.app_context():
        assert worker.run_once().sent == 1
        assert db.session.get(CaptureRequest, request_id).status == "sent"


def test_messages_not_yet_due_wait(app, agent):
    message_id, _request_id, _url = _queue(app, agent.id)
    with app.app_context():
        later = utcnow() + timedelta(minutes=5)
        _message(message_id).next_attempt_at = later
        db.session.commit()
        assert worker.run_once().claimed == 0
        assert worker.run_once(now=later).sent == 1


def test_the_batch_size_limits_one_run(app, agent):
    for _ in range(3):
        _queue(app, agent.id)
    with app.app_context():
        assert worker.run_once(batch=2).sent == 2
        assert worker.run_once(batch=2).sent == 1


def test_a_link_that_expired_while_queued_is_not_sent(app, agent):
    message_id, _request_id, _url = _queue(app, agent.id, minutes=1)
    with app.app_context():
        counts = worker.run_once(now=utcnow() + timedelta(minutes=2))
        assert counts.cancelled == 1 and counts.sent == 0
        message = _message(message_id)
        assert message.status == "cancelled"
        assert message.last_error == "Not sent: the link expired before it could be sent."


def test_a_closed_request_is_not_sent(app, agent):
    message_id, _request_id, _url = _queue(app, agent.id, status="revoked")
    with app.app_context():
        assert worker.run_once().cancelled == 1
        assert _message(message_id).status == "cancelled"


def test_cancelled_messages_are_never_claimed(app, agent):
    message_id, request_id, _url = _queue(app, agent.id)
    with app.app_context():
        outbox.cancel_pending(db.session.get(CaptureRequest, request_id), "revoked", SYSTEM)
        db.session.commit()
        assert worker.run_once().claimed == 0
        assert _message(message_id).status == "cancelled"


def test_a_claim_held_by_a_live_worker_is_respected_and_a_lapsed_one_is_taken_over(app, agent):
    message_id, _request_id, _url = _queue(app, agent.id)
    with app.app_context():
        now = utcnow()
        # A worker claims the message, then dies before sending it.
        assert claims.claim_due(now, 10, "worker-that-died") == [message_id]
        assert worker.run_once(now=now + timedelta(seconds=30)).claimed == 0
        lease = app.config["DELIVERY_LEASE_SECONDS"]
        counts = worker.run_once(now=now + timedelta(seconds=lease + 1))
        assert counts.sent == 1
        first, second = _attempts(message_id)
        assert (first.worker, first.outcome, first.error_code) == (
            "worker-that-died",
            "failed",
            "worker_lost",
        )
        assert second.outcome == "sent" and _message(message_id).attempts == 2


def test_two_workers_one_after_the_other_never_send_twice(app, agent):
    ids = [_queue(app, agent.id)[0] for _ in range(4)]
    with app.app_context():
        now = utcnow()
        first = worker.run_once(now=now, worker_id="worker-a")
        second = worker.run_once(now=now, worker_id="worker-b")
        assert (first.sent, second.claimed) == (4, 0)
        assert all(len(_attempts(message_id)) == 1 for message_id in ids)


def test_transient_failures_back_off_then_give_up_after_the_last_attempt(app_factory, make_staff):
    app = app_factory(
        DELIVERY_MAX_ATTEMPTS=3, DELIVERY_BACKOFF_BASE_SECONDS=10, **smtp_config(free_port())
    )
    agent = make_staff("agent")
    message_id, request_id, url = _queue(app, agent.id, channel="email", destination="a@b.example")
    with app.app_context():
        now = utcnow()
        for attempt, base in [(1, 10), (2, 20)]:
            counts = worker.run_once(now=now)
            assert counts.retrying == 1
            message = _message(message_id)
            assert message.status == "queued" and message.attempts == attempt
            assert message.last_error == "Could not reach the email server. We will try again."
            waited = (message.next_attempt_at - now).total_seconds()
            assert base <= waited <= base * 1.25
            assert worker.run_once(now=now + timedelta(seconds=base - 1)).claimed == 0
            now = message.next_attempt_at
        assert worker.run_once(now=now).failed == 1
        message = _message(message_id)
        assert message.status == "failed" and message.next_attempt_at is None
        assert message.last_error == "Gave up after 3 attempts. Could not reach the email server."
        assert worker.run_once(now=now + timedelta(days=1)).claimed == 0
        outcomes = [(a.outcome, a.error_code) for a in _attempts(message_id)]
        assert outcomes == [("failed", "smtp_unreachable")] * 3
        rows = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "delivery.failed")
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .all()
        )
        assert [(r.outcome, r.details["attempt"], r.details["final"]) for r in rows] == [
            ("failure", 1, False),
            ("failure", 2, False),
            ("failure", 3, True),
        ]
        written = json.dumps([r.details for r in rows])
        assert "a@b.example" not in written and url not in written
        summary = outbox.delivery_summary(request_id)
        assert summary[0]["status_words"] == "Not delivered"
        assert summary[0]["last_error"].startswith("Gave up after 3 attempts")
