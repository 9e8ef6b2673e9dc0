"""Forms built from field sets: validation on the server, normalised values, CSRF on, and the
accessible markup the ``data_fields`` macro renders."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import render_template_string
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict

from portal.personal_data.fields import FieldSetError
from portal.personal_data.service import build_form

MACRO = (
    '{% from "customer/_data_fields.html" import data_fields %}'
    "<form method=post novalidate>{{ data_fields(form) }}</form>"
)


def _posted(app, field_set, data, *, with_token=True):
    """Validate ``data`` as a POST of ``field_set``'s form; return (ok, form, html)."""
    with app.test_request_context("/", method="POST"):
        payload = dict(data)
        if with_token:
            payload["csrf_token"] = generate_csrf()
        form = build_form(field_set, MultiDict(payload))
        ok = form.validate()
        return ok, form, render_template_string(MACRO, form=form)


def test_valid_address_is_normalised(app):
    ok, form, html = _posted(
        app,
        "address",
        {"address_line1": " 10  Downing Street ", "town": "London", "postcode": "sw1a2aa"},
    )
    assert ok, form.errors
    assert form.cleaned() == {
        "address_line1": "10 Downing Street",
        "address_line2": "",
        "town": "London",
        "county": "",
        "postcode": "SW1A 2AA",
    }
    assert 'value="SW1A 2AA"' in html


def test_csrf_stays_on(app):
    ok, form, html = _posted(app, "email", {"email": "jo@example.co.uk"}, with_token=False)
    assert not ok and "csrf_token" in form.errors
    assert "This page has expired" in html


def test_errors_are_summarised_linked_and_tied_to_their_inputs(app):
    ok, form, html = _posted(
        app, "address", {"address_line1": "4242 4242 4242 4242", "postcode": "nope"}
    )
    assert not ok
    assert form.errors == {
        "address_line1": [
            "Address line 1 looks like it contains a card number. Never type card details here."
        ],
        "town": ["Enter town or city"],
        "postcode": ["Enter a real postcode, like SW1A 1AA"],
    }
    assert 'role="alert"' in html
    assert '<a href="#postcode">Enter a real postcode, like SW1A 1AA</a>' in html
    postcode_input = re.search(r"<input[^>]*id=\"postcode\"[^>]*>", html).group()
    assert 'aria-describedby="postcode-error"' in postcode_input
    assert 'aria-invalid="true"' in postcode_input
    assert 'autocomplete="postal-code"' in postcode_input
    assert 'class="input-width-10"' in postcode_input
    assert '<label class="label" for="postcode">Postcode</label>' in html
    # Optional fields carry no error, no aria-invalid.
    county = re.search(r"<input[^>]*id=\"county\"[^>]*>", html).group()
    assert "aria-invalid" not in county and 'autocomplete="address-level1"' in county
    # Nothing inline.
    assert "<script" not in html and "style=" not in html


def test_hints_are_announced_with_the_input(app):
    ok, form, html = _posted(app, "ni_number", {"ni_number": "QQ 12 34 56 C"})
    assert not ok
    assert form.errors["ni_number"] == [
        "Enter a National Insurance number in the correct format, like AB 12 34 56 C"
    ]
    nino = re.search(r"<input[^>]*id=\"ni_number\"[^>]*>", html).group()
    assert 'aria-describedby="ni_number-hint ni_number-error"' in nino
    assert 'id="ni_number-hint"' in html and 'spellcheck="false"' in nino


def test_date_of_birth_is_three_labelled_boxes(app):
    born = date.today().replace(year=date.today().year - 40)
    ok, form, _ = _posted(
        app,
        "date_of_birth",
        {
            "date_of_birth-day": str(born.day),
            "date_of_birth-month": str(born.month),
            "date_of_birth-year": str(born.year),
        },
    )
    assert ok, form.errors
    assert form.cleaned() == {"date_of_birth": born.isoformat()}

    ok, form, html = _posted(
        app, "date_of_birth", {"date_of_birth-day": "31", "date_of_birth-month": "2"}
    )
    assert not ok and form.errors["date_of_birth"] == ["Date of birth must include a year"]
    assert '<fieldset class="fieldset" role="group" aria-describedby="date_of_birth-hint' in html
    assert "<legend" in html
    for part in ("day", "month", "year"):
        assert f'name="date_of_birth-{part}"' in html
        assert f'autocomplete="bday-{part}"' in html
    assert '<label class="label" for="date_of_birth">Day</label>' in html
    assert 'value="31"' in html  # what was typed is shown again

    ok, form, _ = _posted(app, "date_of_birth", {})
    assert form.errors["date_of_birth"] == ["Enter your date of birth"]


def test_contact_combines_email_and_phone_with_input_types(app):
    ok, form, html = _posted(
        app, "contact", {"email": "Jo@Example.co.uk", "phone": "020 7946 0018"}
    )
    assert ok, form.errors
    assert form.cleaned() == {"email": "Jo@example.co.uk", "phone": "+442079460018"}
    assert 'type="email"' in html and 'type="tel"' in html
    assert 'autocomplete="email"' in html and 'autocomplete="tel"' in html


def test_bank_details_use_numeric_keyboards(app):
    ok, form, html = _posted(
        app,
        "bank_details_dd",
        {"account_holder_name": "Jo Bloggs", "sort_code": "309457", "account_number": "12"},
    )
    assert form.errors == {
        "account_number": ["Account number must be 8 digits long, like 00733445"]
    }
    assert form.sort_code.data == "30-94-57"
    assert html.count('inputmode="numeric"') == 2


def test_a_changed_privacy_notice_is_shown_again_before_saving(app):
    ok, form, html = _posted(
        app, "email", {"email": "jo@example.co.uk", "notice_version": "1999-01"}
    )
    assert not ok
    assert "Our privacy notice changed" in form.errors["notice_version"][0]
    assert '<a href="#data-notice">' in html
    # The form now carries the current version, so sending again works.
    assert f'value="{app.config["PRIVACY_NOTICE_VERSION"]}"' in html


def test_unknown_field_set(app):
    with app.test_request_context("/"), pytest.raises(FieldSetError):
        build_form("shoe_size")
