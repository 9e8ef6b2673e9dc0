"""Click-to-create: a CRM opens /agent/new with the payment's details in the query; the agent
sees the form filled in, and nothing exists until they press "Create and send"."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import func, select

from portal.security.validators import CARD_NUMBER_MESSAGE
from tests.support.capture import DEFAULT_FORM, load
from tests.support.web import csrf_from

CRM_LINK = "/agent/new?" + urlencode(
    {"amount": "4250", "currency": "GBP", "reference": "ACC-2002", "interaction_id": "call-81"}
)


def _request_count(app) -> int:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(CaptureRequest)).scalar_one()


def _value(page: str, name: str) -> str | None:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def _checked(page: str, name: str) -> str | None:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"[^>]*checked', page)
    return match.group(1) if match else None


def test_the_form_is_filled_in_and_nothing_is_created(app, logged_in):
    client, _agent = logged_in("agent")
    response = client.get(CRM_LINK)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "New request, filled in from your CRM" in page
    assert _value(page, "amount") == "42.50"
    assert _value(page, "reference") == "ACC-2002"
    assert _value(page, "interaction_id") == "call-81"
    assert _checked(page, "kind") == "payment"
    assert re.search(r'<option selected value="GBP">|<option value="GBP" selected', page)
    assert "There is a problem" not in page
    assert _request_count(app) == 0


def test_pressing_create_and_send_creates_exactly_what_was_prefilled(app, logged_in):
    client, agent = logged_in("agent")
    page = client.get(CRM_LINK).get_data(as_text=True)
    form = {
        **DEFAULT_FORM,
        "purpose": "Water bill",
        "amount": _value(page, "amount"),
        "reference": _value(page, "reference"),
        "interaction_id": _value(page, "interaction_id"),
        "create_key": _value(page, "create_key"),
        "csrf_token": csrf_from(page),
    }
    response = client.post("/agent/requests", data=form)
    assert response.status_code == 201
    assert _request_count(app) == 1
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        row = db.session.execute(select(CaptureRequest)).scalar_one()
        assert (row.amount_minor, row.currency, row.reference, row.interaction_id) == (
            4250,
            "GBP",
            "ACC-2002",
            "call-81",
        )
        assert row.created_by_id == agent.id
    assert load(app, row.public_id).status == "sent"


def test_a_zero_decimal_currency_is_shown_in_whole_units(app, logged_in):
    client, _agent = logged_in("agent")
    app.config["CAPTURE_CURRENCIES"] = ["GBP", "JPY"]
    page = client.get("/agent/new?amount=5000&currency=jpy").get_data(as_text=True)
    assert _value(page, "amount") == "5000"


def test_bad_values_are_named_never_repeated_and_the_rest_kept(app, logged_in):
    client, _agent = logged_in("agent")
    query = urlencode(
        {
            "amount": "42.50",
            "currency": "XXX",
            "kind": "lottery",
            "field_set": "blood_type",
            "reference": "ACC-7",
        }
    )
    page = client.get(f"/agent/new?{query}").get_data(as_text=True)
    assert "not a whole number of pence" in page
    assert "not one Postern takes" in page
    assert "not one Postern knows" in page
    assert "not a set Postern knows" in page
    for refused in ("42.50", "XXX", "lottery", "blood_type"):
        assert refused not in page
    assert _value(page, "reference") == "ACC-7"
    assert _request_count(app) == 0


def test_a_card_number_in_the_link_is_refused_and_forgotten(app, logged_in):
    client, _agent = logged_in("agent")
    page = client.get("/agent/new?reference=4242+4242+4242+4242").get_data(as_text=True)
    assert "4242 4242 4242 4242" not in page and "4242424242424242" not in page
    assert html.escape(CARD_NUMBER_MESSAGE) in page or CARD_NUMBER_MESSAGE in page
    assert _value(page, "reference") in ("", None)


def test_contact_details_and_free_text_never_come_from_the_link(app, logged_in):
    client, _agent = logged_in("agent")
    default = _checked(client.get("/agent/new").get_data(as_text=True), "channel")
    other = "email" if default != "email" else "sms"
    page = client.get(
        f"/agent/new?reference=A1&destination=someone%40example.com&channel={other}"
        "&purpose=Arrears+for+Jane+Smith"
    ).get_data(as_text=True)
    assert "someone@example.com" not in page and "Jane Smith" not in page
    assert _checked(page, "channel") == default


def test_signing_in_first_comes_back_to_the_filled_in_form(app):
    client = app.test_client()
    response = client.get(CRM_LINK)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    next_target = parse_qs(location.query)["next"][0]
    assert next_target == CRM_LINK
