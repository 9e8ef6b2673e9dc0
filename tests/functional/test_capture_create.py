"""Creating capture requests from the agent console: validation, channels, audit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.security.validators import CARD_NUMBER_MESSAGE
from tests.support.capture import (
    DEFAULT_FORM,
    audit_actions,
    create_via_console,
    load,
    path_of,
    token_of,
)
from tests.support.web import csrf_from


def _requests(app):
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        rows = db.session.execute(select(CaptureRequest)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_copy_link_request_shows_link_qr_and_readback(app, logged_in):
    client, agent = logged_in("agent")
    response, url = create_via_console(client)
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    assert url and url.startswith("http://127.0.0.1:5000/c/")
    assert 'src="data:image/svg+xml;base64,' in page
    [row] = _requests(app)
    assert row.created_by_id == agent.id and row.status == "sent"
    assert row.amount_minor == 1250 and row.currency == "GBP" and row.kind == "payment"
    assert row.link_channel == "copy"
    readback = f"{row.readback_code[:3]} {row.readback_code[3:]}"
    assert readback in page
    # Only hashes are stored: not the nonce, not the identity answer.
    assert token_of(url) not in (row.link_nonce_hash, row.identity_hash)
    assert "SW1A" not in (row.identity_hash or "")
    assert audit_actions(app, row.public_id) == ["capture.created", "capture.sent"]
    # The form is ready for the next request: defaults back, a new double-submit key.
    assert re.search(r'name="expiry_minutes"[^>]*value="15"', page)
    # No inline script or style on the page (strict CSP).
    assert "<script>" not in page and "style=" not in page


def test_sms_request_is_queued_in_the_outbox(app, logged_in):
    client, _agent = logged_in("agent")
    response, url = create_via_console(client, channel="sms", destination="07700 900123")
    assert response.status_code == 302 and url is None
    assert "Read-back code" in client.get("/agent/").get_data(as_text=True)
    [row] = _requests(app)
    from portal.delivery.outbox import delivery_summary

    with app.app_context():
        [message] = delivery_summary(row.id)
    assert message["channel"] == "sms" and message["status"] == "queued"
    assert "900123" not in message["destination"]
    assert audit_actions(app, row.public_id) == [
        "capture.created",
        "delivery.queued",
        "capture.sent",
    ]


def test_email_request_needs_a_valid_address(app, logged_in):
    client, _agent = logged_in("agent")
    response, _ = create_via_console(client, channel="email", destination="not an email")
    assert response.status_code == 400
    assert _requests(app) == []
    response, _ = create_via_console(client, channel="email", destination="")
    assert "Enter the customer&#39;s email address." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "field", ["reference", "purpose", "interaction_id", "identity_value", "destination"]
)
def test_card_numbers_are_refused_everywhere_the_agent_types(app, logged_in, field):
    client, _agent = logged_in("agent")
    overrides = {field: "4111 1111 1111 1111"}
    if field == "destination":
        overrides["channel"] = "sms"
    response, _ = create_via_console(client, **overrides)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert CARD_NUMBER_MESSAGE.replace("'", "&#39;") in page
    assert "4111 1111 1111 1111" not in page and "4111111111111111" not in page
    assert _requests(app) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": ""}, "Enter the amount."),
        ({"amount": "12.345"}, "Use at most 2 decimal places for GBP."),
        ({"amount": "0"}, "Enter an amount greater than zero."),
        ({"purpose": ""}, "Say what the payment is for."),
        ({"reference": ""}, "Enter a reference."),
        ({"kind": "data"}, "Choose the details to collect."),
        ({"identity_value": ""}, "from their record, or choose no identity check."),
        ({"identity_item": "date_of_birth", "identity_value": "31/02/1980"}, "does not exist"),
        ({"expiry_minutes": "61"}, "Choose between 1 and 60 minutes."),
        ({"expiry_minutes": "0"}, "Enter how many minutes"),
        ({"currency": "USD"}, "Not a valid choice"),
    ],
)
def test_invalid_requests_are_refused_with_a_reason(app, logged_in, overrides, message):
    client, _agent = logged_in("agent")
    response, _ = create_via_console(client, **overrides)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert _requests(app) == []


def test_data_and_both_kinds(app, logged_in):
    client, _agent = logged_in("agent")
    response, _ = create_via_console(client, kind="data", field_set="address", amount="")
    assert response.status_code == 201
    response, _ = create_via_console(client, kind="both", field_set="iban")
    assert response.status_code == 201
    data, both = sorted(_requests(app), key=lambda r: r.id)
    assert (data.kind, data.field_set, data.amount_minor) == ("data", "address", None)
    assert (both.kind, both.field_set, both.amount_minor) == ("both", "iban", 1250)


def test_other_currencies_by_configuration(app_factory, make_staff):
    from tests.support.web import login

    app = app_factory(CAPTURE_CURRENCIES=["GBP", "JPY", "KWD"])
    client = app.test_client()
    login(client, make_staff("agent"))
    response, _ = create_via_console(client, amount="1,200", currency="JPY")
    assert response.status_code == 201
    response, _ = create_via_console(client, amount="1.5", currency="JPY")
    assert "JPY amounts have no decimal places." in response.get_data(as_text=True)
    response, _ = create_via_console(client, amount="2.125", currency="KWD")
    # Stripe takes three-decimal amounts only in tens (portal/charge_limits.py).
    assert response.status_code == 400
    assert "the last of the three must be 0, like 2.120 KWD" in response.get_data(as_text=True)
    response, _ = create_via_console(client, amount="2.12", currency="KWD")
    assert response.status_code == 201
    rows = sorted(_requests(app), key=lambda r: r.id)
    assert [(r.amount_minor, r.currency) for r in rows] == [(1200, "JPY"), (2120, "KWD")]


@pytest.mark.parametrize(
    ("currencies", "amount", "currency", "message"),
    [
        (["GBP"], "0.29", "GBP", "The smallest card payment Stripe accepts in pounds is £0.30."),
        (["GBP", "JPY"], "49", "JPY", "The smallest card payment Stripe accepts in yen is ¥50."),
        (["GBP", "USD"], "0.49", "USD", "accepts in US dollars is $0.50."),
    ],
)
def test_amounts_stripe_would_refuse_are_refused_to_the_agent(
    app_factory, make_staff, currencies, amount, currency, message
):
    """Below Stripe's minimum for the currency: the agent is told at once, naming the limit,
    and no request (no link) is made, so no customer ever meets the refusal."""
    from tests.support.web import login

    app = app_factory(CAPTURE_CURRENCIES=currencies)
    client = app.test_client()
    login(client, make_staff("agent"))
    response, url = create_via_console(client, amount=amount, currency=currency)
    assert response.status_code == 400 and url is None
    assert message in response.get_data(as_text=True)
    assert _requests(app) == []
    response, _ = create_via_console(client, amount="0.50" if currency != "JPY" else "50",
                                     currency=currency)  # fmt: skip
    assert response.status_code == 201


def test_every_way_of_creating_a_request_applies_the_card_limits(app, make_staff):
    """Commands and scripts create requests through the service, not the form: it refuses too."""
    from portal.audit import Actor
    from portal.capture import service
    from portal.extensions import db
    from portal.models.staff import StaffUser

    agent = make_staff("agent")
    spec = {"kind": "payment", "reference": "ACC-1", "expiry_minutes": 15, "channel": "copy",
            "amount_minor": 29, "currency": "GBP", "purpose": "Gas"}  # fmt: skip
    with app.app_context():
        staff = db.session.get(StaffUser, agent.id)
        with pytest.raises(service.CaptureError) as refused:
            service.create_request(staff, service.RequestSpec(**spec), actor=Actor.staff(staff))
        assert str(refused.value) == "The smallest card payment Stripe accepts in pounds is £0.30."
        big = {**spec, "amount_minor": 100_000_000}
        with pytest.raises(service.CaptureError, match="largest card payment Stripe accepts"):
            service.create_request(staff, service.RequestSpec(**big), actor=Actor.staff(staff))
        db.session.rollback()
    assert _requests(app) == []


def test_no_identity_check_and_custom_expiry(app, logged_in):
    client, _agent = logged_in("agent")
    response, _ = create_via_console(
        client, identity_item="none", identity_value="", expiry_minutes="45"
    )
    assert response.status_code == 201
    [row] = _requests(app)
    assert row.identity_item is None and row.identity_hash is None
    assert 44 * 60 < (row.expires_at - row.created_at).total_seconds() <= 45 * 60


def test_a_double_submitted_form_creates_one_request(app, logged_in):
    client, _agent = logged_in("agent")
    first, _ = create_via_console(client, create_key="same-key-1234567890")
    second, _ = create_via_console(client, create_key="same-key-1234567890")
    assert first.status_code == 201
    assert second.status_code == 302
    assert "already created" in client.get("/agent/").get_data(as_text=True)
    assert len(_requests(app)) == 1


def test_a_form_without_its_one_time_key_is_refused_and_the_page_offers_a_fresh_one(app, logged_in):
    """Proves: a POST without the console page's create_key creates nothing and says why (a
    key made up on the server would leave a double click of it unprotected); the page it
    answers with carries a fresh key, with which the same form then creates exactly once."""
    client, _agent = logged_in("agent")
    refused, _ = create_via_console(client, create_key="")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "This form was not sent from the console page" in text
    assert _requests(app) == []
    fresh = re.search(r'name="create_key" type="hidden" value="([^"]+)"', text).group(1)
    data = {**DEFAULT_FORM, "create_key": fresh, "csrf_token": csrf_from(text)}
    assert client.post("/agent/requests", data=data).status_code == 201
    assert client.post("/agent/requests", data=data).status_code == 302
    assert len(_requests(app)) == 1


@pytest.mark.parametrize("role", ["backoffice", "admin", "auditor"])
def test_roles_without_capture_create_cannot_create(app, logged_in, role):
    client, _user = logged_in(role)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    data = {**DEFAULT_FORM, "csrf_token": token, "create_key": "k" * 20}
    assert client.post("/agent/requests", data=data).status_code == 403
    assert _requests(app) == []


def test_link_length_fits_a_text_message(app, logged_in):
    from portal.delivery.wording import sms_length

    client, _agent = logged_in("agent")
    _response, url = create_via_console(client, channel="copy")
    assert len(token_of(url)) <= 90
    assert len(path_of(url)) <= 95
    # With a typical production host the whole link stays short.
    production_url = "https://pay.example.co.uk" + path_of(url)
    assert len(production_url) <= 120
    assert re.fullmatch(r"[A-Za-z0-9_\-./:]+", production_url)
    assert sms_length(production_url).encoding == "GSM-7"


def test_readback_and_status_in_recent_requests(app, logged_in):
    client, _agent = logged_in("agent")
    create_via_console(client)
    [row] = _requests(app)
    page = client.get("/agent/").get_data(as_text=True)
    assert f'data-request="{row.public_id}"' in page
    assert "Link ready to give" in page, "a copy link is never said to be sent"
    assert load(app, row.public_id).status == "sent"
