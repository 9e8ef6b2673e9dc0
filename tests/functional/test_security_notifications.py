"""Security notifications to admins: each condition emails the admins once, a second burst
within the throttle window emails nobody, and the first check after the window emails once,
counting what was held back. The checks run at a controlled ``now``; nothing sleeps.

Events are made by the real code paths (sign-ins with a wrong password, wrong identity answers
on a customer's link, CSP reports posted by a browser, an edited audit row, a worker's
heartbeat) and the emails go out through the outbox worker, to a real SMTP server.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select, text

from portal import audit
from portal.delivery import worker
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.delivery import DeliveryMessage
from portal.models.security_notification import SecurityNotification
from portal.models.types import utcnow
from portal.observability.heartbeats import record_heartbeat
from portal.security_alerts import run_checks
from portal.security_alerts.notify import SENT, TAKEN, _send
from portal.staff.login import check_password
from tests.support.capture import answer_identity, create_direct, press_start
from tests.support.delivery import smtp_config, smtp_server
from tests.support.loopback import free_port

ADMIN_EMAILS = ("alice.admin@postern.example", "bob.admin@postern.example")
PAYMENT_PAGE = "https://pay.example/c/{token}/pay"


@pytest.fixture
def smtp():
    port = free_port()
    controller, inbox = smtp_server(port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def alerts_app(app_factory, smtp):
    port, _inbox = smtp
    return app_factory(
        **smtp_config(port),
        LOGIN_MAX_FAILURES=1,
        CAPTURE_IDENTITY_MAX_FAILURES=1,
        ALERTS_WINDOW_MINUTES=15,
        ALERTS_THROTTLE_MINUTES=15,
        ALERTS_STAFF_LOCKOUTS_THRESHOLD=3,
        ALERTS_IDENTITY_LOCKS_THRESHOLD=2,
        ALERTS_PAYMENT_PAGE_CSP_THRESHOLD=1,
    )


def _staff(app, username, role, *, email=None, active=True):
    from portal.cli import create_staff

    with app.app_context():
        user = create_staff(username, "a long enough password 1", role, email=email)
        user.is_active = active
        db.session.commit()
        return user.id


@pytest.fixture
def people(alerts_app):
    """Two admins with an address, and others who must never get a notification."""
    for n, address in enumerate(ADMIN_EMAILS):
        _staff(alerts_app, f"admin{n}", "admin", email=address)
    _staff(alerts_app, "admin_no_email", "admin")
    _staff(alerts_app, "admin_disabled", "admin", email="gone.admin@postern.example", active=False)
    _staff(alerts_app, "office", "backoffice", email="office@postern.example")
    _staff(alerts_app, "auditor", "auditor", email="auditor@postern.example")
    return {"agent": _staff(alerts_app, "agent1", "agent", email="agent@postern.example")}


def _notifications(app, kind):
    with app.app_context():
        rows = db.session.execute(
            select(SecurityNotification)
            .where(SecurityNotification.kind == kind)
            .order_by(SecurityNotification.sequence)
        ).scalars()
        return [
            (row.sequence, row.event_count, row.suppressed_count, row.recipients) for row in rows
        ]


def _check(app, now):
    with app.app_context():
        return {outcome.kind: outcome.result for outcome in run_checks(now=now)}


def _deliver(app, now, inbox):
    """Send what the outbox holds at ``now``; returns the emails that arrived, by recipient.

    A notice is queued due at the real clock's time, which on a loaded machine can be later
    than the ``now`` its check ran at: the worker runs at whichever is later."""
    before = len(inbox.messages)
    with app.app_context():
        worker.run_once(now=max(now, utcnow()) + timedelta(seconds=1))
    arrived = inbox.messages[before:]
    return {str(email["To"]): email for email in arrived}


def _lock_staff(app, count, start=0):
    for n in range(start, start + count):
        _staff(app, f"target{n}", "agent")
        with app.app_context():
            check_password(f"target{n}", "wrong password", origin=audit.NO_ORIGIN)


def _throttle_cycle(app, kind, inbox, make_burst):
    """The common story: burst -> one email to each admin; second burst within the window
    -> none; after the window -> one more, counting the held-back events. Returns the two
    emails to the first admin."""
    events = make_burst()
    first_at = utcnow()
    assert _check(app, first_at)[kind] == SENT
    assert _notifications(app, kind) == [(1, events, 0, 2)]
    first = _deliver(app, first_at, inbox)
    assert set(first) == set(ADMIN_EMAILS)

    held_back = make_burst()
    assert _check(app, first_at + timedelta(minutes=5))[kind] == "held back"
    assert _check(app, first_at + timedelta(minutes=10))[kind] == "held back"
    assert len(_notifications(app, kind)) == 1
    assert _deliver(app, first_at + timedelta(minutes=10), inbox) == {}

    after_window = first_at + timedelta(minutes=16)
    assert _check(app, after_window)[kind] == SENT
    second_row = _notifications(app, kind)[1]
    assert second_row[0] == 2 and second_row[2] == held_back and second_row[3] == 2
    second = _deliver(app, after_window, inbox)
    assert set(second) == set(ADMIN_EMAILS)
    # Nothing new since: the next check within the new window sends nothing.
    assert _check(app, after_window + timedelta(minutes=1))[kind] == "quiet"
    return first[ADMIN_EMAILS[0]], second[ADMIN_EMAILS[0]]


def _body(email) -> str:
    return "\n".join(part.get_content() for part in email.walk() if not part.is_multipart())


def test_staff_lockout_burst(alerts_app, people, smtp):
    _port, inbox = smtp
    made = {"n": 0}

    def burst():
        _lock_staff(alerts_app, 3, made["n"])
        made["n"] += 3
        return 3

    first, second = _throttle_cycle(alerts_app, "staff_lockouts", inbox, burst)
    assert first["Subject"].endswith("security notice: staff sign-in lockouts")
    body = _body(first)
    assert "3 staff sign-in lockouts between" in body and "(3 accounts)" in body
    # The zone is said once; the day too, when the window began on another day (midnight).
    assert re.search(r"between \d\d:\d\d( UK time on \d+ \w+)? and \d\d:\d\d UK time", body), body
    assert "http://127.0.0.1:5000/backoffice/staff" in body
    # Which accounts: the back office says, to those signed in; the email does not.
    assert "target" not in body
    assert "3 more were held back after the previous notice" in _body(second)


def test_identity_check_lock_burst_email_holds_no_customer_data(alerts_app, people, smtp):
    _port, inbox = smtp
    links = []

    def burst():
        for n in range(2):
            reference = f"ACC-77{len(links)}{n}"
            public_id, url = create_direct(
                alerts_app,
                people["agent"],
                reference=reference,
            )
            links.append((public_id, url, reference))
            customer = alerts_app.test_client()
            press_start(customer, url)
            assert answer_identity(customer, url, "ZZ9 9ZZ").status_code == 423
        return 2

    first, second = _throttle_cycle(alerts_app, "identity_locks", inbox, burst)
    assert "2 capture requests locked after failed identity checks" in _body(first)
    for email in (first, second):
        raw = email.as_string()
        for public_id, url, reference in links:
            token = url.rsplit("/", 1)[1]
            assert public_id not in raw and token not in raw and reference not in raw
        for personal in ("Gas bill", "SW1A", "ZZ9", "12.50"):
            assert personal not in raw


def test_payment_page_csp_violations(alerts_app, people, smtp):
    _port, inbox = smtp
    client = alerts_app.test_client()

    def report(document):
        body = {
            "csp-report": {
                "document-uri": document,
                "effective-directive": "script-src-elem",
                "violated-directive": "script-src-elem",
                "blocked-uri": "https://skimmer.example/x.js",
                "disposition": "enforce",
            }
        }
        response = client.post(
            "/csp-report", data=json.dumps(body), content_type="application/csp-report"
        )
        assert response.status_code == 204

    def burst():
        report(PAYMENT_PAGE.format(token="t0k3n-one"))
        report(PAYMENT_PAGE.format(token="t0k3n-two"))
        # Another page's report is evidence too, but not of the payment page.
        report("https://pay.example/agent/")
        return 2

    first, _second = _throttle_cycle(alerts_app, "payment_page_csp", inbox, burst)
    body = _body(first)
    assert "2 CSP violation reports from the payment page" in body
    assert "script-src-elem 2" in body and "t0k3n" not in body


def test_broken_audit_chain_reminds_once_per_window(alerts_app, people, smtp):
    _port, inbox = smtp
    with alerts_app.app_context():
        for n in range(3):
            audit.record("test.event", details={"n": n}, actor=audit.SYSTEM)
        db.session.commit()
        middle = db.session.execute(select(func.min(AuditEvent.seq))).scalar() + 1
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
            connection.execute(
                text("UPDATE audit_events SET outcome = 'edited' WHERE seq = :seq"),
                {"seq": middle},
            )
    now = utcnow()
    assert _check(alerts_app, now)["audit_chain_broken"] == SENT
    email = _deliver(alerts_app, now, inbox)[ADMIN_EMAILS[0]]
    assert f"failed verification at row {middle}" in _body(email)
    assert _check(alerts_app, now + timedelta(minutes=5))["audit_chain_broken"] == "held back"
    assert _deliver(alerts_app, now + timedelta(minutes=5), inbox) == {}
    assert _check(alerts_app, now + timedelta(minutes=16))["audit_chain_broken"] == SENT
    assert len(_deliver(alerts_app, now + timedelta(minutes=16), inbox)) == 2


def test_silent_worker(alerts_app, people, smtp):
    _port, inbox = smtp
    with alerts_app.app_context():
        record_heartbeat("webhooks", "host:1:1:abc", 30)
    now = utcnow()
    assert _check(alerts_app, now)["worker_silent"] == "quiet"  # it just beat
    silent_at = now + timedelta(minutes=2)
    assert _check(alerts_app, silent_at)["worker_silent"] == SENT
    body = _body(_deliver(alerts_app, silent_at, inbox)[ADMIN_EMAILS[1]])
    assert "The webhooks worker has not reported since" in body
    assert _check(alerts_app, silent_at + timedelta(minutes=3))["worker_silent"] == "held back"
    assert _check(alerts_app, silent_at + timedelta(minutes=16))["worker_silent"] == SENT


def test_a_silent_outbox_worker_is_reported_without_it(alerts_app, people, smtp):
    """The outbox worker cannot send the notice that it went silent: whoever raised the notice
    sends it (the notices only: a customer's link still waits for the outbox worker)."""
    _port, inbox = smtp
    create_direct(alerts_app, people["agent"], channel="email", destination="pat@example.com")
    with alerts_app.app_context():
        record_heartbeat("outbox", "host:2:1:def", 30)
    silent_at = utcnow() + timedelta(minutes=2)
    assert _check(alerts_app, silent_at)["worker_silent"] == SENT
    assert {str(email["To"]) for email in inbox.messages} == set(ADMIN_EMAILS)
    assert "The outbox worker has not reported since" in _body(inbox.messages[0])
    with alerts_app.app_context():
        waiting = db.session.execute(
            select(DeliveryMessage.status).where(DeliveryMessage.capture_request_id.is_not(None))
        ).scalar_one()
    assert waiting == "queued"


def test_every_notification_and_its_emails_are_audited(alerts_app, people, smtp):
    _port, inbox = smtp
    _lock_staff(alerts_app, 3)
    now = utcnow()
    _check(alerts_app, now)
    _deliver(alerts_app, now, inbox)
    with alerts_app.app_context():
        queued = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "security.notification_queued")
        ).scalar_one()
        assert queued.actor_label == "system" and queued.target_type == "security_notification"
        assert queued.details["kind"] == "staff_lockouts" and queued.details["recipients"] == 2
        sent = db.session.execute(
            select(AuditEvent.target_id).where(AuditEvent.action == "staff_notice.sent")
        ).scalars()
        message_ids = db.session.execute(
            select(DeliveryMessage.id).where(DeliveryMessage.security_notification_id.is_not(None))
        ).scalars()
        assert sorted(sent) == sorted(str(message_id) for message_id in message_ids)


def test_two_processes_deciding_at_once_send_one_notification(alerts_app, people):
    now = utcnow()
    with alerts_app.app_context():
        args = ("staff_lockouts", None, now, now, 3, 0, {}, "/backoffice/staff", audit.SYSTEM)
        assert _send(*args).result == SENT
        assert _send(*args).result == TAKEN
        assert db.session.execute(select(func.count()).select_from(DeliveryMessage)).scalar() == 2


def test_quiet_when_below_thresholds(alerts_app, people):
    _lock_staff(alerts_app, 2)
    outcomes = _check(alerts_app, utcnow())
    assert set(outcomes.values()) == {"quiet"}
    with alerts_app.app_context():
        assert db.session.execute(select(func.count()).select_from(DeliveryMessage)).scalar() == 0


def test_flask_alerts_check(alerts_app, people):
    _lock_staff(alerts_app, 3)
    result = alerts_app.test_cli_runner().invoke(args=["alerts", "check"])
    assert result.exit_code == 0, result.output
    assert "staff_lockouts: notification 1 queued for 2 admin(s)" in result.output
    assert "identity_locks: quiet" in result.output
    with alerts_app.app_context():
        actor = db.session.execute(
            select(AuditEvent.actor_label).where(
                AuditEvent.action == "security.notification_queued"
            )
        ).scalar_one()
    assert actor == "cli"


def test_the_worker_loop_runs_the_checks(alerts_app, people):
    """The outbox and webhook workers' shared loop runs the checks between batches."""
    import logging
    import threading

    from portal.workers import work_until_stopped

    _lock_staff(alerts_app, 3)
    stop = threading.Event()

    class Nothing:
        claimed = 0

        def as_dict(self):
            return {}

    def run_once():
        stop.set()  # one round of the loop
        return Nothing()

    with alerts_app.app_context():
        work_until_stopped("outbox worker", run_once, stop, 0.01, logging.getLogger("test"))
    assert _notifications(alerts_app, "staff_lockouts") == [(1, 3, 0, 2)]


def test_the_development_outbox_shows_a_notification(app_factory, make_staff):
    """In development email goes to the outbox page, which renders a notification like any
    message (it has no capture request to render a link from)."""
    from tests.support.web import login

    app = app_factory(ALERTS_STAFF_LOCKOUTS_THRESHOLD=1, LOGIN_MAX_FAILURES=1)
    _staff(app, "admin0", "admin", email=ADMIN_EMAILS[0])
    _lock_staff(app, 1)
    now = utcnow()
    assert _check(app, now)["staff_lockouts"] == SENT
    with app.app_context():
        assert worker.run_once(now=utcnow() + timedelta(seconds=1)).sent == 1
    client = app.test_client()
    login(client, make_staff("agent"))
    page = client.get("/dev/outbox")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "security notice: staff sign-in lockouts" in html
    assert "1 staff sign-in lockout between" in html


def test_a_notice_window_says_its_zone_once_and_a_day_only_across_midnight(app):
    """Days long past, so that neither end is ever today."""
    from datetime import datetime

    from portal.delivery.staff_notices import _between

    at = lambda hour, minute: datetime(2020, 12, 6, hour, minute, tzinfo=UTC)  # noqa: E731
    with app.app_context():
        assert _between(at(22, 11), at(22, 26)) == "between 22:11 and 22:26 UK time on 6 December"
        across = _between(at(23, 50), datetime(2020, 12, 7, 0, 5, tzinfo=UTC))
        assert across == "between 23:50 UK time on 6 December and 00:05 UK time on 7 December"
