"""Who is acting and from which client, as the audit trail records it: the address only when it
is one, the User-Agent scrubbed and cut to its column, on every kind of actor."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit import ClientOrigin
from portal.security.actors import (
    USER_AGENT_LENGTH,
    client_origin,
    customer_actor,
    signed_in_actor,
)
from portal.security.sessions import CurrentStaff

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def _origin_of(app, remote_addr, user_agent=FIREFOX) -> ClientOrigin:
    environ = {"REMOTE_ADDR": remote_addr} if remote_addr is not None else {}
    headers = {"User-Agent": user_agent} if user_agent is not None else {}
    with app.test_request_context("/", environ_base=environ, headers=headers):
        return client_origin()


@pytest.mark.parametrize(
    ("remote_addr", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),  # written the one canonical way
        ("::1", "::1"),
    ],
)
def test_a_real_client_address_is_kept_in_its_canonical_form(app, remote_addr, stored):
    origin = _origin_of(app, remote_addr)
    assert origin == ClientOrigin(stored, FIREFOX)


@pytest.mark.parametrize(
    "remote_addr", ["", "unknown", "203.0.113.7, 10.0.0.1", "4111111111111111", "<script>"]
)
def test_anything_that_is_not_an_address_is_stored_as_unknown(app, remote_addr):
    assert _origin_of(app, remote_addr).ip is None


def test_the_user_agent_loses_card_numbers_and_controls_and_fits_the_column(app):
    origin = _origin_of(app, "198.51.100.4", "curl/8.0 4111 1111 1111 1111\x07 " + "z" * 400)
    assert origin.ip == "198.51.100.4"
    assert origin.user_agent.startswith("curl/8.0 [REDACTED-PAN] ")
    assert "\x07" not in origin.user_agent
    assert len(origin.user_agent) == USER_AGENT_LENGTH == 255


def test_no_user_agent_is_stored_as_unknown(app):
    assert _origin_of(app, "198.51.100.4", user_agent=None) == ClientOrigin("198.51.100.4", None)


def test_a_signed_in_staff_member_acts_from_the_client_of_the_request(app, make_staff):
    user = make_staff("agent", username="agent.amy")
    with app.test_request_context(
        "/", environ_base={"REMOTE_ADDR": "192.0.2.10"}, headers={"User-Agent": FIREFOX}
    ):
        from flask import g

        g.current_staff = CurrentStaff("agent.amy", "Amy", "agent", user.id)
        actor = signed_in_actor()
    assert (actor.label, actor.id, actor.role) == ("agent.amy", user.id, "agent")
    assert actor.origin == ClientOrigin("192.0.2.10", FIREFOX)


def test_the_customer_acts_from_the_client_of_the_request(app):
    with app.test_request_context(
        "/", environ_base={"REMOTE_ADDR": "192.0.2.11"}, headers={"User-Agent": FIREFOX}
    ):
        actor = customer_actor()
    assert actor.label == "customer" and actor.id is None
    assert actor.origin == ClientOrigin("192.0.2.11", FIREFOX)


def test_a_failed_sign_in_is_audited_with_the_address_and_a_scrubbed_user_agent(app, client):
    from portal.extensions import db
    from portal.models.audit import AuditEvent
    from tests.support.web import post_form

    response = post_form(
        client,
        "/login",
        {"username": "nobody", "password": "not the password at all"},
        environ_base={"REMOTE_ADDR": "203.0.113.99"},
        headers={"User-Agent": "evil 4111-1111-1111-1111 agent"},
    )
    assert response.status_code == 401
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).all()
    assert rows, "a failed sign-in is audited"
    assert rows[0].ip == "203.0.113.99"
    assert rows[0].user_agent == "evil [REDACTED-PAN] agent"
