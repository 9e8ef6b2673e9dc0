"""The development outbox page: what would have been sent, for signed-in staff, never in
production; the HTML body is served alone under a locked-down, sandboxing CSP."""

import re

import pytest

from portal.audit import Actor
from portal.capture.service import RequestSpec, create_request
from portal.delivery import worker
from portal.extensions import db
from portal.models.delivery import DeliveryMessage
from portal.models.staff import StaffUser


def _create(app, agent_id, channel, destination, reference="INV-9"):
    with app.app_context():
        agent = db.session.get(StaffUser, agent_id)
        issued = create_request(
            agent,
            RequestSpec(
                kind="payment",
                reference=reference,
                expiry_minutes=20,
                channel=channel,
                destination=destination,
                amount_minor=1999,
                currency="GBP",
            ),
            actor=Actor.staff(agent),
        )
        db.session.commit()
        return issued.url


def test_signed_out_visitors_are_sent_to_the_login_page(client):
    response = client.get("/dev/outbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/dev/outbox/1/html").status_code == 302


def test_staff_see_what_was_sent_newest_first_and_can_open_the_link(app, logged_in):
    client, agent = logged_in("agent")
    sms_url = _create(app, agent.id, "sms", "07911 123456")
    email_url = _create(app, agent.id, "email", "pat@example.com")

    page = client.get("/dev/outbox").get_data(as_text=True)
    assert page.count('<span class="status">queued</span>') == 2
    assert "flask outbox work" in page

    with app.app_context():
        assert worker.run_once().sent == 2
    response = client.get("/dev/outbox")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert page.index("Email to pat@example.com") < page.index("Text message to +447911123456")
    assert page.count('<span class="status">sent</span>') == 2
    for url in (sms_url, email_url):
        assert f'href="{url}"' in page  # "Open the customer link"
    assert "your secure link from our call" in page
    assert "<script" not in page.split("</main>")[0].split("<main")[1]

    # The demo user follows the link to the customer's page.
    customer_page = client.get(sms_url.removeprefix(app.config["PUBLIC_BASE_URL"]))
    assert customer_page.status_code == 200


def test_the_html_email_is_served_alone_under_a_sandboxing_csp(app, logged_in):
    client, agent = logged_in("agent")
    url = _create(app, agent.id, "email", "pat@example.com")
    with app.app_context():
        message_id = db.session.query(DeliveryMessage.id).scalar()
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert f"/dev/outbox/{message_id}/html" in page
    response = client.get(f"/dev/outbox/{message_id}/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy
    assert "script-src" not in policy and "nonce" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert f'<a href="{url}">{url}</a>' in response.get_data(as_text=True)


def test_sms_messages_have_no_html_view_and_unknown_ids_are_not_found(app, logged_in):
    client, agent = logged_in("agent")
    _create(app, agent.id, "sms", "07911 123456")
    with app.app_context():
        message_id = db.session.query(DeliveryMessage.id).scalar()
    assert client.get(f"/dev/outbox/{message_id}/html").status_code == 404
    assert client.get("/dev/outbox/999999/html").status_code == 404


def test_messages_for_real_providers_are_not_listed(app_factory, make_staff):
    from tests.support.web import login

    app = app_factory(
        DELIVERY_EMAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_FROM="a@postern.example"
    )
    agent = make_staff("agent")
    _create(app, agent.id, "email", "pat@example.com")
    client = app.test_client()
    login(client, agent)
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "pat@example.com" not in page and "Nothing has been sent yet" in page
    with app.app_context():
        message_id = db.session.query(DeliveryMessage.id).scalar()
    assert client.get(f"/dev/outbox/{message_id}/html").status_code == 404


@pytest.mark.parametrize("role", ["supervisor", "backoffice", "admin", "auditor"])
def test_every_staff_role_may_use_it_in_development(app, logged_in, role):
    client, _user = logged_in(role)
    assert client.get("/dev/outbox").status_code == 200


def test_the_page_does_not_exist_when_the_dev_outbox_is_off(app_factory, make_staff):
    from tests.support.web import login

    app = app_factory(DEV_OUTBOX_ENABLED=False)
    assert not any(rule.endpoint.startswith("devtools.") for rule in app.url_map.iter_rules())
    client = app.test_client()
    login(client, make_staff("agent"))
    assert client.get("/dev/outbox").status_code == 404


def test_the_outbox_body_is_escaped(app_factory, make_staff):
    from tests.support.web import login

    app = app_factory(ORG_NAME="<script>alert(1)</script> Acme")
    agent = make_staff("agent")
    _create(app, agent.id, "sms", "07911 123456")
    client = app.test_client()
    login(client, agent)
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert re.search(r'<pre class="dev-message-body">', page)


def test_the_outbox_keeps_no_body_and_renders_each_message_again(app, logged_in):
    """The page shows what the customer received although the outbox stores no body: it is
    rendered again from the request and the sealed link, which a message that was never sent
    no longer holds."""
    from sqlalchemy import inspect, text

    client, agent = logged_in("agent")
    url = _create(app, agent.id, "email", "pat@example.com")
    with app.app_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("delivery_messages")}
        assert not columns & {"subject", "text_body", "html_body"}
        assert worker.run_once().sent == 1
        dumped = repr(db.session.execute(text("SELECT * FROM delivery_messages")).all())
    assert url.rsplit("/c/", 1)[1] not in dumped
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert f'href="{url}"' in page and "your secure link from our call" in page

    _create(app, agent.id, "sms", "07911 123456", reference="INV-10")
    from portal.capture.service import revoke
    from portal.models.capture import CaptureRequest

    with app.app_context():
        newest = db.session.query(CaptureRequest).order_by(CaptureRequest.id.desc()).first()
        revoke(newest, actor=Actor.staff(db.session.get(StaffUser, agent.id)))
        db.session.commit()
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "This message was not sent, so it no longer keeps its link." in page
    assert page.count("Open the customer link") == 1
