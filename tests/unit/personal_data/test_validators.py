"""Each kind of personal-data field: valid inputs normalise, invalid ones get a specific message."""

from __future__ import annotations

import re
from datetime import date

import pytest

from portal.personal_data import validators as v
from portal.personal_data.validators import FieldValueError

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("SW1A 1AA", "SW1A 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("  ec1a 1bb ", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("M1 1AE", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("GIR 0AA", "GIR 0AA"),
    ],
)
def test_postcodes_in_every_uk_format_are_accepted_and_normalised(typed, stored):
    assert v.normalise_postcode(typed, "Postcode") == stored


@pytest.mark.parametrize(
    "typed",
    ["12345", "SW1A", "SW1A 1A", "SW1A 1AAA", "AI1 1AA", "ABC 1DE", "S!1A 1AA", "1W1A 1AA"],
)
def test_malformed_postcodes_are_refused_with_an_example(typed):
    with pytest.raises(FieldValueError, match="Enter a real postcode, like SW1A 1AA"):
        v.normalise_postcode(typed, "Postcode")


def test_a_date_of_birth_from_three_inputs_becomes_an_iso_date():
    assert v.date_from_parts("7", "3", "1985", "Date of birth", TODAY) == "1985-03-07"
    assert v.date_from_parts(" 07 ", "03", "1985", "Date of birth", TODAY) == "1985-03-07"
    assert v.normalise_date_of_birth("1985-03-07", "Date of birth", TODAY) == "1985-03-07"


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("", "3", "1985", "Date of birth must include a day"),
        ("7", "", "", "Date of birth must include a month and year"),
        ("31", "2", "1985", "Date of birth must be a real date"),
        ("7", "13", "1985", "Date of birth must be a real date"),
        ("seven", "3", "1985", "must be a real date, written in numbers"),
        ("7", "3", "85", "Year in date of birth must include 4 numbers"),
        ("7", "3", "2027", "Date of birth must be in the past"),
    ],
)
def test_impossible_or_incomplete_dates_say_what_is_wrong(day, month, year, message):
    with pytest.raises(FieldValueError, match=message):
        v.date_from_parts(day, month, year, "Date of birth", TODAY)


def test_date_of_birth_must_be_between_16_and_120_years_ago():
    label = "Date of birth"
    # Exactly 16 today: accepted; 16 tomorrow: refused.
    assert v.date_from_parts("28", "11", "2010", label, TODAY) == "2010-11-28"
    with pytest.raises(FieldValueError, match="16 or older"):
        v.date_from_parts("29", "11", "2010", label, TODAY)
    # 120 years old (121st birthday tomorrow): accepted; 121 today: refused.
    assert v.date_from_parts("29", "11", "1905", label, TODAY) == "1905-11-29"
    with pytest.raises(FieldValueError, match="within the last 120 years"):
        v.date_from_parts("28", "11", "1905", label, TODAY)
    with pytest.raises(FieldValueError, match="must be in the past"):
        v.normalise_date_of_birth(TODAY.isoformat(), label, TODAY)
    with pytest.raises(FieldValueError, match="must be a real date"):
        v.normalise_date_of_birth("1985-02-30", label, TODAY)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("AB123456C", "AB123456C"), ("ab 12 34 56 c", "AB123456C"), ("JX-48-27-19-D", "JX482719D")],
)
def test_national_insurance_numbers_in_hmrc_format_are_accepted(typed, stored):
    assert v.normalise_ni_number(typed, "National Insurance number") == stored


@pytest.mark.parametrize(
    "typed",
    [
        "QQ 12 34 56 C",  # GOV.UK's example: Q is never a first letter
        "DA123456A",  # D never first
        "AO123456A",  # O never second
        "GB123456A",  # never-issued prefix
        "TN123456A",  # temporary numbers are not NINOs
        "AB123456E",  # suffix only A-D
        "AB12345C",  # five digits
        "AB123456",  # no suffix
        "123456789",
    ],
)
def test_malformed_national_insurance_numbers_are_refused(typed):
    with pytest.raises(FieldValueError, match="like AB 12 34 56 C"):
        v.normalise_ni_number(typed, "National Insurance number")


def test_the_national_insurance_example_we_give_is_one_we_accept():
    """The error's example, and the field's hint, must pass the check they explain."""
    from config.field_sets import FIELD_SETS

    assert v.normalise_ni_number(v.NI_NUMBER_EXAMPLE, "National Insurance number") == "AB123456C"
    with pytest.raises(FieldValueError) as refused:
        v.normalise_ni_number("nonsense", "National Insurance number")
    example = re.search(r"like (.+)$", str(refused.value)).group(1)
    assert v.normalise_ni_number(example, "National Insurance number")
    hints = [
        field["hint"]
        for field_set in FIELD_SETS.values()
        for field in field_set.get("fields", [])
        if field.get("kind") == "ni_number"
    ]
    assert hints
    for hint in hints:
        hinted = re.search(r"For example, ‘([^’]+)’", hint).group(1)
        assert v.normalise_ni_number(hinted, "National Insurance number")


@pytest.mark.parametrize("typed", ["309457", "30 94 57", "30-94-57"])
def test_sort_codes_normalise_to_pairs(typed):
    assert v.normalise_sort_code(typed, "Sort code") == "30-94-57"


def test_sort_code_messages_name_the_problem():
    with pytest.raises(FieldValueError, match="Sort code must be 6 digits long, like 30-94-57"):
        v.normalise_sort_code("30945", "Sort code")
    with pytest.raises(FieldValueError, match="Enter a sort code like 30-94-57"):
        v.normalise_sort_code("3O-94-57", "Sort code")
    with pytest.raises(FieldValueError, match="6 digits long"):
        v.normalise_sort_code("3094577", "Sort code")


def test_account_numbers_are_eight_digits():
    assert v.normalise_account_number("0073 3445", "Account number") == "00733445"
    with pytest.raises(FieldValueError, match="must be 8 digits long"):
        v.normalise_account_number("733445", "Account number")
    with pytest.raises(FieldValueError, match="must only include numbers"):
        v.normalise_account_number("0073344X", "Account number")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("fr14 2004 1010 0505 0001 3m02 606", "FR1420041010050500013M02606"),
        ("NL91ABNA0417164300", "NL91ABNA0417164300"),
    ],
)
def test_ibans_are_checked_and_compacted(typed, stored):
    assert v.normalise_iban(typed, "IBAN") == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("DE88 3704 0044 0532 0130 00", "check digits do not match"),
        ("DE89 3704 0044 0532 0130 0", "wrong length"),
        ("ZZ89 3704 0044 0532 0130 00", "must start with a country code"),
        ("DE89 3704 0044 0532 0130 0!", "only include letters and numbers"),
    ],
)
def test_bad_ibans_get_a_specific_message(typed, message):
    with pytest.raises(FieldValueError, match=message):
        v.normalise_iban(typed, "IBAN")


def test_email_addresses_are_checked_without_dns():
    assert (
        v.normalise_email("Jo.Bloggs@Example.CO.UK", "Email address") == "Jo.Bloggs@example.co.uk"
    )
    for bad in ("jo.bloggs", "jo@@example.com", "jo@example", "jo bloggs@example.com"):
        with pytest.raises(FieldValueError, match="like name@example.com"):
            v.normalise_email(bad, "Email address")


def test_phone_numbers_become_e164():
    assert v.normalise_phone("020 7946 0018", "Telephone number") == "+442079460018"
    assert v.normalise_phone("+33 1 42 68 53 00", "Telephone number") == "+33142685300"
    for bad in ("123", "phone me", "020 7946 001"):
        with pytest.raises(FieldValueError, match="Enter a telephone number, like"):
            v.normalise_phone(bad, "Telephone number")


def test_free_text_is_one_line():
    assert v.normalise_text("  12   High  Street ", "Address line 1") == "12 High Street"
    with pytest.raises(FieldValueError, match="Address line 1 must be on one line"):
        v.normalise_text("12 High Street\nEvil", "Address line 1")


def test_messages_drop_the_optional_marker():
    with pytest.raises(FieldValueError, match="^County must be on one line"):
        v.normalise_text("a\tb", "County (optional)")
