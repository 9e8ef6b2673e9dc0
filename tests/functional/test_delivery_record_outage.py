"""The database fails just after the email server accepted a message: the worker holds on to the
acceptance and records it once the database answers again, so the email is sent exactly once.

Real pieces throughout: the worker's own code, smtplib talking to a real SMTP server (aiosmtpd)
and a database that really refuses the worker's writes: an engine event raises
OperationalError for the UPDATEs of ``delivery_messages`` that follow the server's acceptance,
on SQLite and PostgreSQL alike.
"""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from portal.audit import SYSTEM
from portal.delivery import claims, outbox, worker
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from portal.models.types import utcnow
from tests.reliability.support import assert_audit_chain_intact
from tests.support.capture import make_capture_request
from tests.support.delivery import smtp_config, smtp_server
from tests.support.loopback import free_port, wait_until

ADDRESSES = ("jane.customer@example.com", "raj.customer@example.org")


class DatabaseBlip:
    """Once ``arm()``-ed, the next ``failures`` UPDATEs of delivery_messages fail as if the
    database had gone away. Counts how many it failed and how many emails had arrived then."""

    def __init__(self, engine, failures: int, inbox):
        self.engine, self.left, self.inbox = engine, failures, inbox
        self.armed = False
        self.emails_seen_at_failures: list[int] = []
        self.lock = threading.Lock()

    def arm(self, _message=None) -> None:  # also an aiosmtpd ``before_reply`` hook: accepts
        self.armed = True

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._refuse)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._refuse)

    def _refuse(self, _conn, _cursor, statement, parameters, _context, _executemany):
        if not statement.lstrip().upper().startswith("UPDATE DELIVERY_MESSAGES"):
            return
        with self.lock:
            if not self.armed or self.left == 0:
                return
            self.left -= 1
            self.emails_seen_at_failures.append(len(self.inbox.messages))
        raise OperationalError(statement, parameters, ConnectionError("server closed"))


@pytest.fixture
def email_app(app_factory, make_staff):
    """An app sending email through a real SMTP server; yields (app, inbox, message ids)."""
    port = free_port()
    app = app_factory(**smtp_config(port))
    agent = make_staff("agent")
    ids = []
    with app.app_context():
        for address in ADDRESSES:
            request, url = make_capture_request(agent.id)
            ids.append(outbox.queue_link_message(request, url, "email", address, SYSTEM).id)
        db.session.commit()
    controller, inbox = smtp_server(port)
    controller.start()
    try:
        yield app, inbox, ids
    finally:
        controller.stop()


def _rows(model, **where):
    return db.session.execute(select(model).filter_by(**where)).scalars().all()


def _sent_audits():
    rows = _rows(AuditEvent, action="delivery.sent")
    return sorted(row.details["message_id"] for row in rows)


def test_an_acceptance_is_recorded_once_the_database_answers_again(email_app, caplog):
    app, inbox, ids = email_app
    with app.app_context(), DatabaseBlip(db.engine, 3, inbox) as blip:
        inbox.before_reply = blip.arm
        counts = worker.run_once()

        assert (counts.claimed, counts.sent) == (2, 2)
        assert blip.left == 0
        # While the first acceptance waited, nothing else was sent.
        assert blip.emails_seen_at_failures == [1, 1, 1]
        assert len(inbox.messages) == 2
        message_ids = [email["Message-ID"] for email in inbox.messages]
        assert len(set(message_ids)) == 2
        for message_id in ids:
            (message,) = _rows(DeliveryMessage, id=message_id)
            assert message.status == "sent" and message.attempts == 1
            assert message.provider_message_id in message_ids
            (attempt,) = _rows(DeliveryAttempt, message_id=message_id)
            assert attempt.outcome == "sent"
        assert _sent_audits() == sorted(ids)
        assert worker.run_once(now=utcnow() + timedelta(days=1)).claimed == 0
    assert len(inbox.messages) == 2
    assert_audit_chain_intact(app)

    failures = [r.getMessage() for r in caplog.records if "recording it failed" in r.getMessage()]
    assert len(failures) == 3
    assert all(f"message {ids[0]} " in line and "(OperationalError)" in line for line in failures)
    assert not any(address.split("@")[0] in caplog.text for address in ADDRESSES)
    assert "/c/" not in caplog.text


def test_a_stopping_worker_gives_up_loudly_after_the_grace_period(email_app, caplog, monkeypatch):
    app, inbox, ids = email_app
    monkeypatch.setattr(worker, "STOP_GRACE_SECONDS", 1.0)
    stop, results = threading.Event(), []

    def work():
        with app.app_context():
            results.append(worker.run_once(worker_id="stopping-worker", stop=stop))

    with app.app_context(), DatabaseBlip(db.engine, 10_000, inbox) as blip:
        inbox.before_reply = blip.arm
        thread = threading.Thread(target=work)
        thread.start()
        # Not stopping yet: it keeps trying for as long as the database is away.
        wait_until(lambda: len(blip.emails_seen_at_failures) >= 3, 15, "three failed records")
        assert thread.is_alive()
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()

    (counts,) = results
    assert (counts.claimed, counts.sent) == (2, 1)
    assert len(inbox.messages) == 1  # the rest of the batch was not sent
    loud = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert [r.getMessage() for r in loud] == [
        f"delivery: message {ids[0]} was accepted by the provider but NOT recorded "
        "(OperationalError): "
        "it may be sent again once its lease lapses"
    ]
    with app.app_context():
        assert _rows(DeliveryMessage, id=ids[0])[0].status == "sending"
        assert _sent_audits() == []


def test_every_attempt_at_a_message_carries_the_same_message_id(email_app):
    app, inbox, ids = email_app
    refused = []

    def refuse_first_attempt(email):
        if not refused:
            refused.append(email["Message-ID"])
            return "451 4.3.0 Try again later"
        return None

    inbox.before_reply = refuse_first_attempt
    with app.app_context():
        counts = worker.run_once(now=utcnow())
        assert (counts.retrying, counts.sent) == (1, 1)
        (other,) = inbox.messages
        retry_at = _rows(DeliveryMessage, id=ids[0])[0].next_attempt_at
        assert worker.run_once(now=retry_at).sent == 1
        retried = inbox.messages[1]
        (message,) = _rows(DeliveryMessage, id=ids[0])
        assert message.attempts == 2
        assert retried["Message-ID"] == refused[0] == message.provider_message_id
        assert other["Message-ID"] != refused[0]


def test_a_message_taken_over_mid_batch_is_left_to_the_other_worker(email_app):
    app, inbox, ids = email_app
    taken = []

    def take_over_as_the_first_email_is_accepted(_email):
        if not taken:  # as if our lease had lapsed during a long wait
            with app.app_context():
                lease = app.config["DELIVERY_LEASE_SECONDS"]
                later = utcnow() + timedelta(seconds=lease + 1)
                taken.extend(claims.claim_due(later, 10, "worker-b"))

    inbox.before_reply = take_over_as_the_first_email_is_accepted
    with app.app_context():
        counts = worker.run_once(worker_id="worker-a")
        assert (counts.claimed, counts.sent) == (2, 1)
        assert sorted(taken) == sorted(ids) and len(inbox.messages) == 1
        first, second = (_rows(DeliveryMessage, id=message_id)[0] for message_id in ids)
        assert first.status == "sent"  # the customer has it: recorded, so worker-b won't resend
        assert (second.status, second.claimed_by) == ("sending", "worker-b")
        assert _sent_audits() == [ids[0]]
        attempts = {
            message_id: [
                (a.worker, a.outcome, a.error_code)
                for a in _rows(DeliveryAttempt, message_id=message_id)
            ]
            for message_id in ids
        }
        assert sorted(attempts[ids[0]]) == [
            ("worker-a", "sent", None),
            ("worker-b", "failed", "already_sent"),  # worker-b has nothing left to send
        ]
        assert sorted(attempts[ids[1]]) == [
            ("worker-a", "failed", "worker_lost"),
            ("worker-b", None, None),  # in flight: worker-b sends it
        ]
