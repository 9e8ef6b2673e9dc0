"""Card numbers typed into ANY free-text field, staff or customer, are refused.

The fields are found programmatically: every ``FlaskForm`` subclass anywhere under ``portal/``
(every module is imported first) and the form built for every declared personal-data field set,
so a new form or field cannot be forgotten. A free-text field is a ``StringField`` or
``TextAreaField`` that is not a password or hidden field. Each must refuse a card number in
every common shape, with a message that says it looks like a card number.

A few fields compare what is typed against a stored secret and never keep or log it; they are
listed in ``COMPARED_NOT_STORED`` with the reason, and the end-to-end tests below prove that a
card number typed there leaves no trace in the database. Known gaps that must be fixed in code
owned elsewhere are listed in ``KNOWN_GAPS`` and run as strict xfails: they show in every run,
and the day the gap is closed the xfail fails, so the entry must be removed.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import String, Text, select
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.fields.core import UnboundField

import portal
from tests.support.capture import DEFAULT_FORM, create_direct, path_of, press_start
from tests.support.web import csrf_from, post_form

PAN = "4111111111111111"
PAN_SHAPES = [
    PAN,
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "my card is 5555 5555 5555 4444 exp 12/29",
    "378282246310005",  # Amex, 15 digits
]

#: form.field -> why a card number typed there can do no harm (proved end to end below).
COMPARED_NOT_STORED = {
    "LoginForm.username": "looked up, never stored; a failed login logs and audits no username",
    "CodeForm.code": "compared with the TOTP or recovery codes; never stored or logged",
    "ReauthForm.code": "compared with the TOTP code; never stored or logged",
}
#: form.field -> a known gap, to be fixed in the owning module (empty: none today).
KNOWN_GAPS: dict[str, str] = {}


def _import_everything() -> None:
    for module in pkgutil.walk_packages(portal.__path__, "portal."):
        importlib.import_module(module.name)


def _all_form_classes() -> list[type]:
    _import_everything()
    from portal.personal_data.fields import field_set_choices
    from portal.personal_data.forms import form_class

    found, queue = [], list(FlaskForm.__subclasses__())
    while queue:
        cls = queue.pop()
        queue.extend(cls.__subclasses__())
        if cls.__module__.startswith("portal.") and cls not in found:
            found.append(cls)
    for name, _ in field_set_choices():
        if form_class(name) not in found:
            found.append(form_class(name))
    return found


def _free_text_fields(cls: type) -> list[str]:
    names = []
    for name in dir(cls):
        unbound = getattr(cls, name, None)
        if not isinstance(unbound, UnboundField):
            continue
        kind = unbound.field_class
        if issubclass(kind, (StringField, TextAreaField)) and not issubclass(
            kind, (PasswordField, HiddenField)
        ):
            names.append(name)
    return names


def _cases():
    cases = []
    for cls in _all_form_classes():
        for name in _free_text_fields(cls):
            key = f"{cls.__name__.split('_')[0]}.{name}"
            marks = []
            if key in KNOWN_GAPS:
                marks = [pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[key])]
            cases.append(pytest.param(cls, name, id=f"{cls.__name__}.{name}", marks=marks))
    return cases


CASES = _cases()
#: The fields that store what is typed (the compared-only ones are proven end to end below).
STORED_CASES = [
    case
    for case in CASES
    if f"{case.values[0].__name__.split('_')[0]}.{case.values[1]}" not in COMPARED_NOT_STORED
]
#: Stored fields whose refusal already works, for the no-echo check.
ECHO_CASES = [
    case
    for case in STORED_CASES
    if f"{case.values[0].__name__.split('_')[0]}.{case.values[1]}" not in KNOWN_GAPS
]


def test_the_enumeration_finds_the_forms_we_know():
    """A guard on the enumeration itself: it must see the staff and customer forms."""
    ids = {case.id for case in CASES}
    for expected in (
        "CreateRequestForm.reference",
        "CreateRequestForm.purpose",
        "CreateRequestForm.identity_value",
        "ResendForm.destination",
        "IdentityForm.answer",
        "LoginForm.username",
    ):
        assert expected in ids, sorted(ids)
    assert any(case.id.startswith("DataForm_") for case in CASES), "no personal-data form found"


@pytest.mark.parametrize(("form_class", "field_name"), STORED_CASES)
def test_every_free_text_field_refuses_card_numbers(app, form_class, field_name):
    """Proves: every free-text field that stores what is typed refuses a card number in each
    common shape, with an error that says it is a card number."""
    key = f"{form_class.__name__.split('_')[0]}.{field_name}"
    with app.test_request_context(method="POST"):
        for shape in PAN_SHAPES:
            form = form_class(formdata=MultiDict({field_name: shape}), meta={"csrf": False})
            field = form[field_name]
            field.validate(form)
            assert field.errors, f"{key} accepted {shape!r}"
            assert any("card number" in str(error).lower() for error in field.errors), (
                key,
                field.errors,
            )


@pytest.mark.parametrize(("form_class", "field_name"), ECHO_CASES)
def test_a_refused_card_number_is_not_echoed_back(app, form_class, field_name):
    """The re-shown form must not carry the card number back to the page (its value)."""
    key = f"{form_class.__name__.split('_')[0]}.{field_name}"
    with app.test_request_context(method="POST"):
        form = form_class(formdata=MultiDict({field_name: PAN}), meta={"csrf": False})
        field = form[field_name]
        field.validate(form)
        assert PAN not in str(field._value()), f"{key} re-shows the refused card number"


def _text_everywhere(app) -> str:
    """Every text value in every table, joined: where a stored card number would show."""
    from portal.extensions import db

    chunks = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            if not columns:
                continue
            for row in db.session.execute(select(*columns)).all():
                chunks.extend(str(value) for value in row if value)
    return "\n".join(chunks).replace(" ", "").replace("-", "")


def test_card_numbers_in_the_create_form_are_refused_and_never_stored(app, logged_in):
    """End to end: each free-text field of the agent's form, with a card number, is refused
    with the card-number message; the number is not echoed back nor stored anywhere."""
    from portal.security.validators import CARD_NUMBER_MESSAGE

    client, _ = logged_in("agent")
    for name in ("reference", "purpose", "interaction_id", "identity_value", "amount"):
        page = client.get("/agent/").get_data(as_text=True)
        key = re.search(r'name="create_key" type="hidden" value="([^"]+)"', page).group(1)
        data = {**DEFAULT_FORM, "csrf_token": csrf_from(page), "create_key": key}
        answer = client.post("/agent/requests", data={**data, name: "4111 1111 1111 1111"})
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400, name
        assert CARD_NUMBER_MESSAGE.replace("\u2014", "&mdash;") in text or (
            "looks like a card number" in text
        ), name
        assert "4111 1111 1111 1111" not in text and PAN not in text
    assert PAN not in _text_everywhere(app)


def test_card_numbers_typed_by_a_customer_are_refused_and_never_stored(app, make_staff):
    """The identity answer refuses a card number; nothing of it is stored or echoed."""
    _, url = create_direct(
        app, make_staff("agent").id, identity_item="surname", identity_value="O'Brien"
    )
    customer = app.test_client()
    assert press_start(customer, url).status_code == 303
    answer = post_form(customer, path_of(url) + "/check", {"answer": "4111 1111 1111 1111"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "looks like a card number" in text and "4111 1111 1111 1111" not in text
    assert PAN not in _text_everywhere(app)


def test_compared_fields_leave_no_trace_of_a_card_number(app, make_staff, client):
    """The allow-listed fields really only compare: a card number typed as a username or as a
    second-factor code is refused (wrong credentials) and appears nowhere in the database."""
    user = make_staff("backoffice", mfa=True)
    post_form(client, "/login", {"username": PAN, "password": "whatever it is"})
    answer = post_form(client, "/login", {"username": user.username, "password": "x" * 12})
    assert answer.status_code == 401
    from tests.support.staff import DEFAULT_PASSWORD

    assert (
        post_form(
            client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
        ).status_code
        == 302
    )
    refused = post_form(client, "/login/mfa", {"code": "4111 1111 1111 1111"})
    assert refused.status_code == 401
    assert PAN not in _text_everywhere(app)
