"""The SMS and email providers are down while agents create requests through the app, then come
back: every link message is delivered once they return, none is lost and none is sent twice.

Real processes throughout: gunicorn serves the console, two ``flask outbox work`` processes
share the queue, the real twilio SDK talks to a local stand-in for Twilio's Messages API and
smtplib to a real SMTP server (aiosmtpd) that is started only after the outage."""

from __future__ import annotations

import re
import secrets
import threading
from collections import Counter

import pytest
import requests
from sqlalchemy import select

from tests.reliability.support import (
    console_form,
    create_form,
    gunicorn_servers,
    needs_postgres_writers,
    outbox_workers,
    staff_login,
)
from tests.support.capture import public_id_of
from tests.support.delivery import FakeTwilio, smtp_config, smtp_server
from tests.support.loopback import free_port, wait_until
from tests.support.staff import DEFAULT_PASSWORD

PER_CHANNEL = 20
_LINK = re.compile(r"https?://[^\s\"'<>]+/c/[A-Za-z0-9_.\-]+")
pytestmark = [pytest.mark.postgres, pytest.mark.reliability, needs_postgres_writers]


def _messages(app):
    from portal.extensions import db
    from portal.models.delivery import DeliveryMessage

    with app.app_context():
        rows = db.session.execute(select(DeliveryMessage)).scalars().all()
        db.session.expunge_all()
        return rows


def _public_ids(app, messages) -> list[str]:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        return [db.session.get(CaptureRequest, m.capture_request_id).public_id for m in messages]


def _every_one_failed_at_least(messages, failures: int, count: int) -> bool:
    """All ``count`` messages are still to be sent (waiting, or being tried again) and each has
    failed ``failures`` times or more. A message's attempts count from its claim, so one being
    tried now has failed one time fewer than its count says."""
    return len(messages) == count and all(
        m.status in ("queued", "sending") and m.attempts - (m.status == "sending") >= failures
        for m in messages
    )


def test_outage_then_recovery_delivers_every_message_exactly_once(app, make_staff, database_url):
    """Proves: while both providers are down, creating requests still succeeds (the outbox
    decouples them) and the workers keep retrying with back-off; once the providers return,
    every queued link is delivered exactly once across two concurrent workers, and nothing is
    left queued, failed or sent twice."""
    agent = make_staff("agent")
    smtp_port = free_port()
    with FakeTwilio() as twilio:
        twilio.mode = "503"
        overrides = {
            **twilio.config(),
            **smtp_config(smtp_port),
            "SMTP_TIMEOUT_SECONDS": 3,
            "DELIVERY_BACKOFF_BASE_SECONDS": 1,
            "DELIVERY_BACKOFF_MAX_SECONDS": 2,
            "DELIVERY_MAX_ATTEMPTS": 100,
        }
        with (
            gunicorn_servers(database_url, 1, "delivery", overrides=overrides) as (server,),
            outbox_workers(database_url, 2, "outbox-worker", overrides),
        ):
            browser = staff_login(server.base, agent.username, DEFAULT_PASSWORD)
            csrf, _ = console_form(browser, server.base)
            cookies = browser.cookies.get_dict()
            answers = []

            def create(reference: str, channel: str) -> None:
                answer = requests.post(
                    server.base + "/agent/requests",
                    data=create_form(csrf, secrets.token_urlsafe(16), reference, channel),
                    cookies=cookies,
                    allow_redirects=False,
                    timeout=60,
                )
                answers.append(answer.status_code)

            threads = [
                threading.Thread(target=create, args=(f"OUT-{channel}-{n:02d}", channel))
                for channel in ("sms", "email")
                for n in range(PER_CHANNEL)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert answers == [302] * (2 * PER_CHANNEL)

            # Both providers are down: every message is tried, fails, and waits to retry. (Not
            # "all queued at once": on a slow machine the two workers' batches outlast the
            # back-off, so some message is always being tried again.)
            wait_until(
                lambda: _every_one_failed_at_least(_messages(app), 2, 2 * PER_CHANNEL),
                60,
                "every message to have failed at least twice",
                every=0.2,
            )
            assert twilio.received == []

            twilio.mode = "ok"
            controller, smtp = smtp_server(smtp_port)
            controller.start()
            wait_until(
                lambda: all(m.status == "sent" for m in _messages(app)),
                60,
                "every message to be sent",
                every=0.2,
            )
        # The workers are stopped now: nothing more can be sent. Count what arrived.
        controller.stop()

    messages = _messages(app)
    assert len(messages) == 2 * PER_CHANNEL
    assert all(m.status == "sent" and m.provider_message_id for m in messages)
    # The outbox keeps each message's request, not its link: links are matched by public id.
    expected = Counter(_public_ids(app, messages))
    assert all(count == 1 for count in expected.values())
    sms_links = Counter(
        public_id_of(_LINK.search(form["Body"]).group(0)) for form in twilio.received
    )
    email_links = Counter(
        public_id_of(_LINK.search(message.get_body(("plain",)).get_content()).group(0))
        for message in smtp.messages
    )
    assert sum(sms_links.values()) == PER_CHANNEL and sum(email_links.values()) == PER_CHANNEL
    assert sms_links + email_links == expected  # each link delivered exactly once
