"""The knowledge check's edges: the first and last dates of birth it accepts, the longest
surname, and the exact sentence the customer reads for each value it cannot compare (the page
shows that sentence next to the field, so it must say how to write the value)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.capture import identity
from portal.models.types import utcnow


def test_the_accepted_dates_of_birth_run_from_1900_to_today():
    today = utcnow().date()
    assert identity.normalise_date_of_birth("01/01/1900") == "1900-01-01"
    assert identity.normalise_date_of_birth("1900-01-01") == "1900-01-01"
    assert identity.normalise_date_of_birth(today.strftime("%d/%m/%Y")) == today.isoformat()
    # Two days on: still tomorrow if midnight passes while the test runs.
    for outside in (date_text(today + timedelta(days=2)), "31/12/1899"):
        with pytest.raises(identity.IdentityFormatError) as refused:
            identity.normalise_date_of_birth(outside)
        assert str(refused.value) == "Enter a date of birth between 1900 and today."


def date_text(day) -> str:
    return day.strftime("%d/%m/%Y")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("31 March 1980", "Enter the date as day/month/year, like 31/03/1980."),
        ("31/02/1980", "That date does not exist. Check the day and month."),
    ],
)
def test_what_the_customer_is_told_about_a_date_of_birth(typed, message):
    with pytest.raises(identity.IdentityFormatError) as refused:
        identity.normalise_date_of_birth(typed)
    assert str(refused.value) == message


def test_a_surname_may_have_up_to_80_letters():
    assert identity.normalise_surname("a" * 80) == "a" * 80
    for refused_text in ("a" * 81, "' -", "1234"):
        with pytest.raises(identity.IdentityFormatError) as refused:
            identity.normalise_surname(refused_text)
        assert str(refused.value) == "Enter a surname using letters."


def test_what_the_customer_is_told_about_a_postcode():
    with pytest.raises(identity.IdentityFormatError) as refused:
        identity.normalise_postcode("SW1A-1AA!")
    assert str(refused.value) == "Enter a postcode using letters and numbers, like SW1A 1AA."


@pytest.mark.parametrize("item", [identity.POSTCODE, identity.DATE_OF_BIRTH, identity.SURNAME])
@pytest.mark.parametrize("nothing", [None, ""])
def test_no_answer_is_never_an_answer(item, nothing):
    with pytest.raises(identity.IdentityFormatError):
        identity.normalise(item, nothing)
