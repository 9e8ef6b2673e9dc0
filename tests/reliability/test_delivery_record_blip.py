"""PostgreSQL stops at the exact moment the email server accepts a message, and starts again two
seconds later: the worker records the acceptance once the database is back, so every email
arrives exactly once.

Real processes: ``flask outbox work`` workers, smtplib to a real SMTP server (aiosmtpd)
whose DATA handler stops the database before it answers 250, and a PRIVATE PostgreSQL cluster
(initdb into a temporary directory, a free port), never the shared server other work relies on.
The lease is short (20 s), so a message left unrecorded would be claimed and sent again well
within the test's deadline.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portal import create_app
from portal.audit import SYSTEM
from portal.delivery import outbox, worker
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.delivery import DeliveryMessage
from tests.reliability.support import (
    assert_audit_chain_intact,
    log_path,
    migrate,
    outbox_workers,
)
from tests.support.capture import make_capture_request
from tests.support.database import dispose_engines
from tests.support.delivery import smtp_config, smtp_server
from tests.support.loopback import free_port, wait_until
from tests.support.private_postgres import private_postgres, private_postgres_unavailable
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(
        private_postgres_unavailable() is not None,
        reason=str(private_postgres_unavailable()),
    ),
]
MESSAGES, BLIPS = 8, 3
WORKERS = "record-blip"


class StopDatabaseOnAcceptance:
    """aiosmtpd ``before_reply`` hook: for the first ``blips`` messages accepted while PostgreSQL
    is up, stop it before the server answers 250, and start it again two seconds later."""

    def __init__(self, cluster, blips: int):
        self.cluster, self.left = cluster, blips
        self.up = threading.Event()
        self.up.set()
        self.problems: list[Exception] = []

    def __call__(self, _email) -> None:
        if self.left and self.up.is_set():
            self.left -= 1
            self.up.clear()
            self.cluster.stop()
            threading.Timer(2.0, self._start).start()

    def _start(self) -> None:
        try:
            self.cluster.start()
        except Exception as problem:  # noqa: BLE001 - reported by the test
            self.problems.append(problem)
        self.up.set()


def _statuses(app) -> list[str]:
    """Every message's status; [] while the database is away."""
    with app.app_context():
        try:
            return db.session.execute(select(DeliveryMessage.status)).scalars().all()
        except OperationalError:
            return []
        finally:
            db.session.remove()


def _app_with_queued_emails(cluster, count: int):
    """Migrate the private cluster and queue ``count`` link emails; returns an app on it."""
    from portal.cli import create_staff

    migrate(cluster.url)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": cluster.url})
    with app.app_context():
        agent = create_staff("blipagent", DEFAULT_PASSWORD, "agent")
        for n in range(count):
            request, url = make_capture_request(agent.id)
            outbox.queue_link_message(request, url, "email", f"customer{n}@example.org", SYSTEM)
        db.session.commit()
    return app


def test_a_database_blip_as_the_email_is_accepted_sends_nothing_twice():
    """Proves: an acceptance the database could not take is held and recorded once it is back,
    never resent when its lease lapses; no message is lost, each arrives once (counted by its
    Message-ID, the same on every attempt), each has one ``delivery.sent`` audit row, and the
    audit chain verifies."""
    with private_postgres() as cluster:
        app = _app_with_queued_emails(cluster, MESSAGES)

        port = free_port()
        controller, inbox = smtp_server(port)
        blip = StopDatabaseOnAcceptance(cluster, BLIPS)
        inbox.before_reply = blip
        overrides = {**smtp_config(port), "DELIVERY_LEASE_SECONDS": 20, "DELIVERY_BATCH_SIZE": 3}
        controller.start()
        try:
            with outbox_workers(cluster.url, 2, WORKERS, overrides):
                wait_until(
                    lambda: _statuses(app) == ["sent"] * MESSAGES,
                    90,
                    "every message recorded as sent",
                    every=0.5,
                )
        finally:
            blip.up.wait(timeout=30)
            controller.stop()

        assert blip.problems == [] and blip.left == 0
        arrived = Counter(email["Message-ID"] for email in inbox.messages)
        assert len(arrived) == MESSAGES and set(arrived.values()) == {1}, arrived
        with app.app_context():
            recorded = db.session.execute(select(DeliveryMessage)).scalars().all()
            assert {m.provider_message_id for m in recorded} == set(arrived)
            audited = Counter(
                row.details["message_id"]
                for row in db.session.execute(
                    select(AuditEvent).where(AuditEvent.action == "delivery.sent")
                ).scalars()
            )
            assert audited == Counter({m.id: 1 for m in recorded})
        assert_audit_chain_intact(app)

        logs = "".join(log_path(f"{WORKERS}-{n}").read_text() for n in range(2))
        assert logs.count("was accepted by the provider; recording it failed") >= BLIPS
        assert "NOT recorded" not in logs and "@example.org" not in logs
        with app.app_context():
            dispose_engines(db)


def test_stopped_while_the_database_is_away_it_names_the_message_that_may_be_resent():
    """Proves: SIGTERM reaches a worker waiting to record an acceptance; it keeps trying for
    its grace period, then exits cleanly, saying at CRITICAL which message was accepted by the
    provider but not recorded."""
    with private_postgres() as cluster:
        app = _app_with_queued_emails(cluster, 1)
        port = free_port()
        controller, inbox = smtp_server(port)
        inbox.before_reply = lambda _email: cluster.stop()
        controller.start()
        log = log_path(f"{WORKERS}-stop-0")
        try:
            with outbox_workers(cluster.url, 1, f"{WORKERS}-stop", smtp_config(port)) as (process,):
                wait_until(lambda: "recording it failed" in log.read_text(), 30, "a failed record")
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=worker.STOP_GRACE_SECONDS + 15) == 0
        finally:
            controller.stop()

        assert len(inbox.messages) == 1
        assert (
            "delivery: message 1 was accepted by the provider but NOT recorded "
            "(OperationalError): it may be sent again once its lease lapses"
        ) in log.read_text()
        cluster.start()
        assert _statuses(app) == ["sending"]
        with app.app_context():
            dispose_engines(db)
