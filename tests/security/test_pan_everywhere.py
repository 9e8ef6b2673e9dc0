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
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, Text, select
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.fields.core import UnboundField

import portal
from portal.card_numbers import contains_pan
from tests.support.capture import DEFAULT_FORM, create_direct, path_of, press_start
from tests.support.card_numbers import card_number_spellings
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


# --- Every spelling, every input: generated card numbers (tests/support/card_numbers.py) ------

#: Generated examples per input; each counts in ``--hypothesis-show-statistics``.
FORM_EXAMPLES = settings(max_examples=300, deadline=None, database=None)
END_TO_END = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STORED_FIELDS = [case.values for case in STORED_CASES]


@FORM_EXAMPLES
@given(field=st.sampled_from(STORED_FIELDS), case=card_number_spellings())
def test_no_spelling_of_a_card_number_passes_any_free_text_field(field, case):
    """Proves: every free-text field that stores what is typed (agent, back office, staff and
    the customer's, found by the enumeration above) refuses a valid card number of any issuer
    in any spelling, with the card-number message."""
    form_class, field_name = field
    _, text = case
    event(f"field {form_class.__name__.split('_')[0]}.{field_name}")
    with _form_app().test_request_context(method="POST"):
        form = form_class(formdata=MultiDict({field_name: text}), meta={"csrf": False})
        form[field_name].validate(form)
        errors = [str(error).lower() for error in form[field_name].errors]
        assert any("card number" in error for error in errors), (field_name, text, errors)


_FORM_APP = []


def _form_app():
    """One app for the form-level examples (no database work: only validation)."""
    if not _FORM_APP:
        from portal import create_app

        _FORM_APP.append(create_app("testing"))
    return _FORM_APP[0]


@FORM_EXAMPLES
@given(case=card_number_spellings(), what=st.sampled_from(["reason", "refund note"]))
def test_no_spelling_passes_a_staff_justification(case, what):
    """Refund notes, rejection reasons and the reasons for reveal, export and erasure all go
    through ``checked_justification``: none takes a card number."""
    from portal.staff_text import checked_justification

    with pytest.raises(ValueError, match="card number"):
        checked_justification(case[1][:200], error=ValueError, what=what)


@FORM_EXAMPLES
@given(case=card_number_spellings())
def test_no_spelling_reaches_a_log_line(case):
    """A card number in a log message, its arguments or its extra fields is masked by the
    production handler, in any spelling."""
    import io
    import logging

    from portal.observability.logging import build_handler

    stream = io.StringIO()
    logger = logging.Logger("postern.pan-test")
    logger.addHandler(build_handler(True, stream=stream))
    logger.warning("typed %s", case[1], extra={"note": case[1]})
    assert not contains_pan(stream.getvalue()), stream.getvalue()


def _stored_card_numbers(app) -> list[str]:
    from tests.support.artifacts import card_numbers_in_database

    return card_numbers_in_database(app)


#: Limits these tests would reach: each sends many requests from one address. (Limits are
#: raised, not switched off: the limiter is shared by every app of the process.)
_GENEROUS_LIMITS = dict.fromkeys(
    (
        "RATELIMIT_LOGIN_PER_IP",
        "RATELIMIT_LOGIN_PER_ACCOUNT",
        "RATELIMIT_CSP_REPORT_PER_IP",
        "RATELIMIT_CUSTOMER_LINK_PER_IP",
        "RATELIMIT_CUSTOMER_START_PER_IP",
        "RATELIMIT_IDENTITY_PER_REQUEST_IP",
    ),
    "10000 per minute",
)


@pytest.fixture
def open_app(app_factory):
    """An app whose rate limits these tests stay under."""
    return app_factory(**_GENEROUS_LIMITS)


@END_TO_END
@given(
    case=card_number_spellings(), name=st.sampled_from(["reference", "purpose", "interaction_id"])
)
def test_no_spelling_is_stored_from_the_agent_console(open_app, make_staff_for, case, name):
    """End to end: the agent's form refuses every spelling in reference, purpose and interaction
    id with the card-number message, and nothing of it is stored anywhere."""
    from portal.security.validators import CARD_NUMBER_MESSAGE

    client = make_staff_for(open_app)
    page = client.get("/agent/").get_data(as_text=True)
    key = re.search(r'name="create_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {**DEFAULT_FORM, "csrf_token": csrf_from(page), "create_key": key, name: case[1]}
    answer = client.post("/agent/requests", data=data)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400, (name, case)
    assert CARD_NUMBER_MESSAGE.split(" \u2014")[0] in text, name
    assert not contains_pan(text.replace(CARD_NUMBER_MESSAGE, ""))
    assert _stored_card_numbers(open_app) == []


_ACCOUNTS = iter(range(1, 10**9))


def _new_account(app, role: str = "agent"):
    """A new staff account (each hypothesis example needs its own: tables outlive examples)."""
    from tests.support.staff import create_staff_account

    return create_staff_account(app, role, f"pan{role}{next(_ACCOUNTS)}")


@pytest.fixture
def make_staff_for():
    """A signed-in agent's client for ``app``, made once per app: hypothesis runs every example
    of a test with the same fixtures."""
    from tests.support.web import login

    clients = {}

    def make(app):
        if id(app) not in clients:
            client = app.test_client()
            login(client, _new_account(app))
            clients[id(app)] = client
        return clients[id(app)]

    return make


@END_TO_END
@given(case=card_number_spellings())
def test_no_spelling_is_stored_from_the_customer_data_step(open_app, case):
    """End to end: the customer's data step refuses every spelling in a free-text field with
    the message the customer sees today, answers 400 (never 500), and stores nothing."""
    from tests.support.customer_details import ADDRESS, DATA_SPEC, Customer

    customer = Customer(open_app, _new_account(open_app).id, **DATA_SPEC)
    answer = customer.send({**ADDRESS, "address_line1": case[1]})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400, case
    assert "looks like it contains a card number" in text
    assert not contains_pan(text), "the page echoes the card number back"
    assert _stored_card_numbers(open_app) == []


@END_TO_END
@given(case=card_number_spellings())
def test_no_spelling_is_stored_from_the_login_form_or_a_user_agent(open_app, case):
    """End to end, without signing in: a card number as the username of a failed login, and in
    the User-Agent header (stored in the append-only audit trail), is stored nowhere; the rest of
    the user agent is kept, with the number masked."""
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    client = open_app.test_client()
    # A header is bytes on the wire, one line: WSGI hands it over decoded as Latin-1.
    sent = "Mozilla/5.0 (X11) " + " ".join(case[1].splitlines()) + " Firefox/140.0"
    agent = sent.encode().decode("latin-1")
    page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={"username": case[1], "password": "not the password", "csrf_token": csrf_from(page)},
        headers={"User-Agent": agent},
    )
    assert _stored_card_numbers(open_app) == []
    with open_app.app_context():
        agents = db.session.scalars(select(AuditEvent.user_agent)).all()
    assert any(ua and ua.startswith("Mozilla/5.0 (X11)") for ua in agents), agents


@END_TO_END
@given(case=card_number_spellings())
def test_no_spelling_is_stored_from_a_csp_report(open_app, case):
    """End to end, without signing in: a card number in every field of a CSP report is stored
    nowhere (the report is stored scrubbed, or refused)."""
    import json

    client = open_app.test_client()
    report = {
        "csp-report": {
            "document-uri": f"https://pay.example/c/x?card={case[1]}",
            "referrer": f"https://mail.example/?n={case[1]}",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "original-policy": "default-src 'none'",
            "disposition": "enforce",
            "blocked-uri": f"https://evil.example/{case[1]}",
            "source-file": f"https://pay.example/{case[1]}.js",
            "status-code": 200,
            "script-sample": case[1],
        }
    }
    answer = client.post(
        "/csp-report", data=json.dumps(report).encode(), content_type="application/csp-report"
    )
    assert answer.status_code < 500
    assert _stored_card_numbers(open_app) == []
