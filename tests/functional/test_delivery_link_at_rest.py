"""The outbox keeps the link's public id, never the link: a link message is rendered only to
send it, and its token is kept sealed (with the data keyring) only while it may still be sent.

Each test reads the outbox tables back with raw SQL, as an attacker with a copy of the database
would, and looks for the token (whole, or any 24-character piece of its signature or payload).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from portal.audit import Actor
from portal.capture.service import RequestSpec, create_request
from portal.delivery import worker
from portal.extensions import db
from portal.models.staff import StaffUser
from tests.support.delivery import FakeTwilio, smtp_config, smtp_server
from tests.support.loopback import free_port

OTHER_KEY = {"other": b"\x17" * 16 + b"\x2a" * 16}


def _create(app, agent_id, channel, destination):
    with app.app_context():
        agent = db.session.get(StaffUser, agent_id)
        issued = create_request(
            agent,
            RequestSpec(
                kind="payment",
                reference="INV-42",
                expiry_minutes=20,
                channel=channel,
                destination=destination,
                amount_minor=1250,
                currency="GBP",
            ),
            actor=Actor.staff(agent),
        )
        db.session.commit()
        return issued.url


def _outbox_dump(app) -> str:
    """Every value of every row of the outbox tables, as raw SQL returns them."""
    with app.app_context():
        rows = [
            list(row)
            for table in ("delivery_messages", "delivery_attempts")
            for row in db.session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        ]
    return json.dumps(rows, default=repr)


def _pieces_of(url: str) -> list[str]:
    token = url.rsplit("/c/", 1)[1]
    return [token] + [token[i : i + 24] for i in range(0, len(token) - 23, 8)]


def _assert_no_token(app, url):
    dumped = _outbox_dump(app)
    for piece in _pieces_of(url):
        assert piece not in dumped, f"the outbox holds part of the link: {piece}"


def _path(app, url):
    return url.removeprefix(app.config["PUBLIC_BASE_URL"].rstrip("/"))


def test_a_text_message_carries_a_working_link_and_the_outbox_keeps_none(app_factory, make_staff):
    with FakeTwilio() as twilio:
        app = app_factory(**twilio.config())
        agent = make_staff("agent")
        url = _create(app, agent.id, "sms", "07911 123456")
        _assert_no_token(app, url)  # queued: sealed, not written out

        with app.app_context():
            assert worker.run_once().sent == 1
        (sent,) = twilio.received
    assert url in sent["Body"].split()
    _assert_no_token(app, url)
    with app.app_context():
        (sealed,) = db.session.execute(text("SELECT sealed_link FROM delivery_messages")).one()
    assert sealed is None, "a message sent through a real provider forgets even its sealed link"
    assert app.test_client().get(_path(app, url)).status_code == 200


def test_an_email_carries_a_working_link_in_both_parts_and_the_outbox_keeps_none(
    app_factory, make_staff
):
    port = free_port()
    controller, handler = smtp_server(port)
    controller.start()
    try:
        app = app_factory(**smtp_config(port))
        agent = make_staff("agent")
        url = _create(app, agent.id, "email", "pat@example.com")
        with app.app_context():
            assert worker.run_once().sent == 1
    finally:
        controller.stop()
    (email,) = handler.messages
    plain = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert url in plain.split() and f'href="{url}"' in html
    _assert_no_token(app, url)
    assert app.test_client().get(_path(app, url)).status_code == 200


def test_a_message_that_fails_for_good_forgets_its_link(app_factory, make_staff):
    with FakeTwilio() as twilio:
        twilio.mode = "invalid"
        app = app_factory(**twilio.config())
        agent = make_staff("agent")
        url = _create(app, agent.id, "sms", "07911 123456")
        with app.app_context():
            assert worker.run_once().failed == 1
            (sealed, status) = db.session.execute(
                text("SELECT sealed_link, status FROM delivery_messages")
            ).one()
    assert (sealed, status) == (None, "failed")
    _assert_no_token(app, url)


def test_a_revoked_request_cancels_its_message_and_forgets_the_link(app, make_staff):
    from portal.capture.service import revoke
    from portal.models.capture import CaptureRequest

    agent = make_staff("agent")
    url = _create(app, agent.id, "sms", "07911 123456")
    with app.app_context():
        request = db.session.query(CaptureRequest).one()
        revoke(request, actor=Actor.staff(db.session.get(StaffUser, agent.id)))
        db.session.commit()
        (sealed, status) = db.session.execute(
            text("SELECT sealed_link, status FROM delivery_messages")
        ).one()
    assert (sealed, status) == (None, "cancelled")
    _assert_no_token(app, url)


def test_a_link_sealed_under_a_key_no_longer_configured_fails_plainly(app_factory, make_staff):
    """Removing a data key before its messages were sent: the message fails with words the
    agent can act on (resend), instead of sending a broken link or crashing the worker."""
    app = app_factory()
    agent = make_staff("agent")
    _create(app, agent.id, "sms", "07911 123456")
    rotated = app_factory(DATA_ENCRYPTION_KEYS=OTHER_KEY)
    with rotated.app_context():
        assert worker.run_once().failed == 1
        (status, error, code, sealed) = db.session.execute(
            text("SELECT status, last_error, last_error_code, sealed_link FROM delivery_messages")
        ).one()
    assert (status, code, sealed) == ("failed", "link_unavailable", None)
    assert error == worker.LINK_UNAVAILABLE_WORDS


@pytest.mark.parametrize("tamper", ["other_message", "flipped_bit"])
def test_a_sealed_link_moved_or_altered_does_not_open(app, make_staff, tamper):
    from portal.delivery.sealed_link import LinkUnavailable, open_link
    from portal.models.delivery import DeliveryMessage

    agent = make_staff("agent")
    _create(app, agent.id, "sms", "07911 123456")
    _create(app, agent.id, "sms", "07911 123457")
    with app.app_context():
        first, second = db.session.query(DeliveryMessage).order_by(DeliveryMessage.id).all()
        sealed = first.sealed_link
        if tamper == "flipped_bit":
            key_id, _, packed = sealed.partition(":")
            flipped = "A" if packed[-5] != "A" else "B"
            target, sealed = first, f"{key_id}:{packed[:-5]}{flipped}{packed[-4:]}"
        else:
            target = second
        with pytest.raises(LinkUnavailable):
            open_link(target.capture_request_id, target.id, sealed)
