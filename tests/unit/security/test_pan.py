"""Card-number detection: what counts as a PAN, and what must not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from portal.security.pan import contains_pan, find_pans, mask_pans

VISA_16 = "4111111111111111"
VISA_13 = "4222222222222"
AMEX_15 = "378282246310005"
LUHN_19 = "4000000000000000006"


@pytest.mark.parametrize(
    "text",
    [
        VISA_16,
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        VISA_13,
        AMEX_15,
        "3782 822463 10005",
        LUHN_19,
        "card 4111111111111111 please",
        "ref:4111111111111111.",
        "the number is 4111-1111-1111-1111, expiry 12/34",
        "abc4111111111111111xyz",
    ],
)
def test_card_numbers_are_found(text):
    assert contains_pan(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "1234567890123",  # 13 digits, fails Luhn
        "Order 20240511000123 shipped",  # 14-digit order number, fails Luhn
        "411111111111",  # 12 digits: too short, even though it looks like a card
        "07700 900123",  # a phone number
        "41111111111111111111",  # 20 digits: longer than any PAN
        "4111111111111112",  # one digit off: Luhn fails
        "4111_1111_1111_1111",  # underscores are not separators
    ],
)
def test_non_card_numbers_are_left_alone(text):
    assert not contains_pan(text)


def test_a_nineteen_digit_luhn_number_is_a_pan_but_twelve_is_not():
    assert luhn.is_valid(LUHN_19) and len(LUHN_19) == 19
    assert contains_pan(LUHN_19)
    twelve = "4" + "0" * 10
    twelve += luhn.calc_check_digit(twelve)
    assert len(twelve) == 12 and luhn.is_valid(twelve)
    assert not contains_pan(twelve)


def test_mask_replaces_every_card_number_and_keeps_the_rest():
    text = f"first {VISA_16} then 4111 1111 1111 1111 and order 1234567890123 end"
    masked = mask_pans(text)
    assert masked == "first [REDACTED-PAN] then [REDACTED-PAN] and order 1234567890123 end"


def test_mask_with_a_custom_replacement_and_without_matches():
    assert mask_pans(VISA_13, replacement="#") == "#"
    assert mask_pans("nothing here 123") == "nothing here 123"


def test_find_pans_reports_positions():
    text = f"x {VISA_16} y"
    ((start, end),) = list(find_pans(text))
    assert text[start:end] == VISA_16


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111 123",  # the CVC typed straight after the number
        "4111111111111111 123",
        "4111 1111 1111 1111 12 34",  # the expiry after it
        "4111 1111 1111 1111 12/34 123",
        "qty 2 4111111111111111",  # a number before it
        "1 2 3 4111-1111-1111-1111",
    ],
)
def test_a_card_number_next_to_other_digit_groups_is_still_found(text):
    masked = mask_pans(text)
    assert "[REDACTED-PAN]" in masked
    assert "4111" not in masked.replace("-", "").replace(" ", "")


def test_test_data_for_non_card_numbers_really_fails_luhn():
    for number in ("1234567890123", "20240511000123", "4111111111111112"):
        assert not luhn.is_valid(number)


def test_a_long_run_of_digit_groups_is_scanned_quickly():
    import time

    text = " ".join(["12"] * 20000)
    started = time.perf_counter()
    mask_pans(text)
    assert time.perf_counter() - started < 2.0


_NOT_DIGITS = st.text(
    alphabet=st.characters(exclude_categories=("Nd", "No")).filter(lambda ch: not ch.isdigit()),
    max_size=20,
)


@st.composite
def written_pans(draw):
    """A Luhn-valid 13-19 digit number, written whole or in groups with spaces or dashes."""
    body = draw(st.text(alphabet="0123456789", min_size=12, max_size=18))
    digits = body + luhn.calc_check_digit(body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    group = draw(st.sampled_from([4, 5, 6]))
    return separator.join(digits[i : i + group] for i in range(0, len(digits), group))


@settings(max_examples=200, deadline=None)
@given(prefix=_NOT_DIGITS, pan=written_pans(), suffix=_NOT_DIGITS)
def test_any_written_card_number_in_any_text_is_masked(prefix, pan, suffix):
    masked = mask_pans(prefix + pan + suffix)
    assert not any(ch.isdigit() for ch in masked)
    assert contains_pan(prefix + pan + suffix)
