"""Audit rows name the actor the HTTP edge passed down, and the client it acted from: the signed-in
staff member, the customer on a link, or the system when time itself changed something (a link
expiring), whichever request happened to notice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.support.backoffice_write import data_request, reauth
from tests.support.capture import create_via_console, expire, path_of
from tests.support.web import login, post_form

AGENT_BROWSER = {"REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "AgentBrowser/1"}
CUSTOMER_PHONE = {"REMOTE_ADDR": "203.0.113.77", "HTTP_USER_AGENT": "CustomerPhone/2"}
OFFICE_BROWSER = {"REMOTE_ADDR": "192.0.2.30", "HTTP_USER_AGENT": "OfficeBrowser/3"}


def _rows(app, public_id: str) -> list:
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = list(
            db.session.execute(
                select(AuditEvent).where(AuditEvent.target_id == public_id).order_by(AuditEvent.seq)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def _newest_public_id(app) -> str:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        return db.session.execute(
            select(CaptureRequest.public_id).order_by(CaptureRequest.id.desc()).limit(1)
        ).scalar_one()


def _who(row) -> tuple:
    return row.actor_label, row.actor_id, row.actor_role, row.ip, row.user_agent


def test_rows_name_the_staff_member_and_the_customer_with_their_own_clients(app, make_staff):
    """Proves: the agent's rows carry the agent and the agent's browser, the customer's rows
    carry "customer" and the customer's phone, although both are written by the same services."""
    agent = make_staff("agent")
    console = app.test_client()
    console.environ_base.update(AGENT_BROWSER)
    login(console, agent)
    _, url = create_via_console(console)
    phone = app.test_client()
    phone.environ_base.update(CUSTOMER_PHONE)
    assert phone.get(path_of(url)).status_code == 200

    rows = {row.action: row for row in _rows(app, _newest_public_id(app))}
    agent_at_desk = (agent.username, agent.id, "agent", "198.51.100.20", "AgentBrowser/1")
    assert _who(rows["capture.created"]) == agent_at_desk
    assert _who(rows["capture.sent"]) == agent_at_desk
    assert _who(rows["capture.opened"]) == (
        "customer",
        None,
        None,
        "203.0.113.77",
        "CustomerPhone/2",
    )


def test_an_agents_poll_that_expires_a_request_audits_both_rows_as_the_system(app, make_staff):
    """Proves: when an agent's status poll is what notices that an SMS request's time is up, the
    expiry and the cancelled text message are both recorded as the system's doing (time expired
    it, not the agent), from the client whose poll noticed. The message used to be recorded as
    the agent and the expiry as the system."""
    agent = make_staff("agent")
    console = app.test_client()
    console.environ_base.update(AGENT_BROWSER)
    login(console, agent)
    create_via_console(console, channel="sms", destination="07700 900123")
    public_id = _newest_public_id(app)
    expire(app, public_id, ago=timedelta(minutes=1))

    poll = console.get(f"/agent/api/requests/{public_id}/status")

    assert poll.status_code == 200 and poll.get_json()["status"] == "expired"
    rows = {row.action: row for row in _rows(app, public_id)}
    cancelled, expired = rows["delivery.cancelled"], rows["capture.expired"]
    assert cancelled.details == {"messages": 1, "reason": "expired"}
    assert _who(cancelled) == _who(expired)
    assert _who(expired) == ("system", None, None, "198.51.100.20", "AgentBrowser/1")
    assert _who(rows["delivery.queued"])[:3] == (agent.username, agent.id, "agent")


def test_erasing_a_lapsed_request_audits_its_expiry(app, make_staff):
    """Proves: erasure expires a request whose time ran out unnoticed, and writes the same
    ``capture.expired`` row as every other path that expires one (it used to change the status
    without any audit row), before the erasure's own rows."""
    agent = make_staff("agent")
    public_id = data_request(app, agent.id, status="verified")
    expire(app, public_id, ago=timedelta(minutes=1))
    office = app.test_client()
    office.environ_base.update(OFFICE_BROWSER)
    officer = make_staff("backoffice", mfa=True)
    login(office, officer)
    reauth(office, officer)
    page = f"/backoffice/data-requests/{public_id}"

    erased = post_form(
        office, page + "/erase", {"reason": "Erasure request ER-78", "confirm": "y"}, page=page
    )

    assert erased.status_code == 303
    rows = _rows(app, public_id)
    actions = [row.action for row in rows]
    assert actions[-3:] == ["capture.expired", "data.erased", "data_subject.erased"]
    expired = rows[-3]
    assert _who(expired) == ("system", None, None, "192.0.2.30", "OfficeBrowser/3")
    assert expired.details == {}
    assert _who(rows[-1]) == (
        officer.username,
        officer.id,
        "backoffice",
        "192.0.2.30",
        "OfficeBrowser/3",
    )
