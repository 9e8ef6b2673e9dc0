"""Field sets as data: loading, checking the declarations, and validating one value."""

from __future__ import annotations

from datetime import date

import pytest

from portal.personal_data.fields import (
    FIELD_SET_REGISTRY,
    FieldSetError,
    get_field_set,
    load_field_sets,
    validate_value,
)
from portal.personal_data.validators import FieldValueError

TODAY = date(2026, 11, 28)
CARD = "4242 4242 4242 4242"


def _set(**overrides):
    base = {
        "title": "T",
        "purpose": "P",
        "retention_class": "personal_data",
        "fields": [{"name": "line", "label": "Line", "kind": "text"}],
    }
    return {**base, **overrides}


def test_every_built_in_set_loads_with_a_title_purpose_and_retention_class():
    expected = {"address", "date_of_birth", "ni_number", "bank_details_dd", "iban", "email"}
    assert expected | {"phone", "contact"} <= set(FIELD_SET_REGISTRY)
    for field_set in FIELD_SET_REGISTRY.values():
        assert field_set.title and field_set.purpose
        assert field_set.retention_class == "personal_data"
        for spec in field_set.fields:
            assert spec.label and spec.autocomplete and spec.max_length > 0


def test_address_fields_carry_autofill_tokens():
    address = get_field_set("address")
    assert address.field_names == ("address_line1", "address_line2", "town", "county", "postcode")
    assert [spec.autocomplete for spec in address.fields] == [
        "address-line1",
        "address-line2",
        "address-level2",
        "address-level1",
        "postal-code",
    ]
    assert [spec.required for spec in address.fields] == [True, False, True, False, True]


def test_a_combined_set_is_its_parts_in_order():
    contact = get_field_set("contact")
    assert contact.field_names == ("email", "phone")
    assert contact.title == "Your contact details"


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        ({"x": _set(fields=[{"name": "a", "label": "A", "kind": "telepathy"}])}, "unknown kind"),
        ({"x": _set(retention_class="forever")}, "retention class"),
        ({"x": _set(fields=[{"name": "a", "label": "A", "kind": "text", "colour": 1}])}, "colour"),
        ({"x": _set(fields=[{"name": "not valid", "label": "A", "kind": "text"}])}, "valid field"),
        ({"x": _set(fields=[], include=["y"])}, "exactly one of"),
        ({"x": {**_set(), "fields": None, "include": ["x"]}}, "exactly one of"),
        ({"x": {k: v for k, v in _set().items() if k != "fields"} | {"include": ["x"]}}, "itself"),
        ({"x": {k: v for k, v in _set().items() if k != "fields"} | {"include": ["y"]}}, "unknown"),
        ({"x": _set(fields=[{"name": "a", "label": "A", "kind": "text"}] * 2)}, "repeats"),
    ],
)
def test_inconsistent_declarations_are_refused_at_load(declared, problem):
    with pytest.raises(FieldSetError, match=problem):
        load_field_sets(declared)


def test_unknown_field_set_names_are_refused():
    with pytest.raises(FieldSetError, match="unknown field set 'shoe_size'"):
        get_field_set("shoe_size")
    with pytest.raises(FieldSetError):
        get_field_set(None)


def test_required_and_optional_values():
    address = get_field_set("address")
    with pytest.raises(FieldValueError, match="Enter address line 1, typically the building"):
        validate_value(address.field("address_line1"), "   ", TODAY)
    assert validate_value(address.field("county"), "", TODAY) == ""
    assert validate_value(address.field("county"), None, TODAY) == ""


def test_values_longer_than_the_maximum_are_refused_by_name():
    town = get_field_set("address").field("town")
    with pytest.raises(FieldValueError, match="^Town or city must be 60 characters or fewer$"):
        validate_value(town, "x" * 61, TODAY)
    assert validate_value(town, "x" * 60, TODAY) == "x" * 60


@pytest.mark.parametrize(
    ("set_name", "field_name", "typed"),
    [
        ("address", "address_line1", f"Flat 2, {CARD}"),
        ("address", "address_line2", "4000-0566-5566-5556"),
        ("address", "town", "5555555555554444"),
        ("address", "county", f"card {CARD} exp 12/30"),
        ("bank_details_dd", "account_holder_name", f"J Bloggs {CARD}"),
        ("email", "email", "4242424242424242@example.com"),
        # Structured fields say "card number" too when what was typed is one.
        ("phone", "phone", CARD),
        ("bank_details_dd", "account_number", CARD),
        ("iban", "iban", CARD),
        ("address", "postcode", "4242424242424242"),
    ],
)
def test_card_numbers_are_refused_in_every_field(set_name, field_name, typed):
    spec = get_field_set(set_name).field(field_name)
    with pytest.raises(FieldValueError, match="looks like it contains a card number"):
        validate_value(spec, typed, TODAY)


def test_a_long_number_that_is_not_a_card_is_not_called_one():
    line = get_field_set("address").field("address_line1")
    assert validate_value(line, "Unit 4242424242424241", TODAY) == "Unit 4242424242424241"


def test_date_of_birth_values_arrive_as_iso_dates():
    spec = get_field_set("date_of_birth").field("date_of_birth")
    assert validate_value(spec, "1961-07-23", TODAY) == "1961-07-23"
    with pytest.raises(FieldValueError, match="16 or older"):
        validate_value(spec, "2015-01-01", TODAY)
