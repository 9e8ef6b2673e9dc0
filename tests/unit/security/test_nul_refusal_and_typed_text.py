"""A NUL anywhere in a query string is refused with a 400 that names the field (every value of
a repeated field, and the field's name too); staff text keeps every value of a repeated field
when it is tidied."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.security.input import _tidied_form, tidy_typed_text
from tests.support.capture import answer_identity, create_direct, load, path_of, press_start

JSON = {"Accept": "application/json"}


def _refusal(client, query: str):
    response = client.get(f"/login?{query}", headers=JSON)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["error"] == "bad_characters"
    return body


def test_a_nul_in_a_value_is_refused_naming_the_field(client):
    body = _refusal(client, "next=/agent/%00")
    assert body == {
        "error": "bad_characters",
        "field": "next",
        "message": "next: contains a NUL character",
    }


def test_a_nul_in_the_second_value_of_a_repeated_field_is_refused(client):
    body = _refusal(client, "next=/agent/&next=/backoffice/%00")
    assert body["field"] == "next"


def test_a_nul_in_a_field_name_is_refused_and_named_without_it(client):
    body = _refusal(client, "ne%00xt=/agent/")
    assert body["field"] == "next"
    assert body["message"] == "next: contains a NUL character"


def test_a_field_named_only_by_nul_characters_is_called_unnamed(client):
    body = _refusal(client, "%00%00=x")
    assert body["field"] == "(unnamed)"


def test_a_long_field_name_is_cut_to_forty_characters(client):
    name = "f" * 39 + "g" + "h" * 20
    body = _refusal(client, f"{name}=%00")
    assert body["field"] == "f" * 39 + "g"


def test_a_browser_gets_a_page_naming_the_field(client):
    response = client.get("/login?next=/a%00", headers={"Accept": "text/html"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "character we cannot accept" in page and "“next”" in page
    assert "· Postern</title>" in page  # staff know the product by its name


def test_a_customer_gets_the_page_without_the_forms_name_for_the_box(app, client, make_staff):
    """Proves: on the customer's pages the refusal names no box (the form's name for it,
    "answer", is not what the customer read) and wears the customer's frame, and the answer is
    not counted."""
    public_id, url = create_direct(app, make_staff("agent").id)
    press_start(client, url)
    response = answer_identity(client, url, "SW1A\x00 1AA")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "A box in that form contained a hidden character" in page
    assert "“answer”" not in page
    # The customer's frame: the organisation's name, never the product's they do not know.
    assert f" · {app.config['ORG_NAME']}</title>" in page and 'class="product"' not in page
    assert load(app, public_id).identity_failures == 0


def test_a_customer_address_that_matches_no_page_names_no_box_either(app, client, make_staff):
    """Proves: a NUL sent to a customer's address with a method it does not take (no view, so
    no blueprint) still gets the customer's page, naming no box."""
    _public_id, url = create_direct(app, make_staff("agent").id)
    response = client.post(path_of(url) + "/summary", data={"x": "\x00"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "A box in that form contained a hidden character" in page and "“x”" not in page
    assert 'class="product"' not in page


def test_a_query_without_nul_is_answered_normally(client):
    assert client.get("/login?next=/agent/&next=/backoffice/").status_code == 200


def test_every_value_of_a_repeated_field_is_tidied_and_kept_in_order():
    tidied = _tidied_form(MultiDict([("tag", "a\tb"), ("tag", "c\x07d"), ("note", "plain")]))
    assert tidied.getlist("tag") == ["a b", "cd"]
    assert tidied["note"] == "plain"


def test_a_repeated_field_whose_later_value_needs_tidying_is_tidied():
    tidied = _tidied_form(MultiDict([("tag", "plain"), ("tag", "x\u202ey")]))
    assert tidied.getlist("tag") == ["plain", "xy"]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ACC\t42", "ACC 42"),
        ("line one\r\nline two", "line one line two"),
        ("ring\x07bell", "ringbell"),
        ("\u202eevil\u202c", "evil"),
        ("mark\u200fed", "marked"),
        ("del\x7fete", "delete"),
        ("Zoë 日本 😀", "Zoë 日本 😀"),
    ],
)
def test_typed_text_loses_controls_and_bidi_formatting_and_keeps_the_rest(typed, kept):
    assert tidy_typed_text(typed) == kept
