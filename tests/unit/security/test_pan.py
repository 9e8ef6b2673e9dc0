"""Card-number detection: what counts as a PAN, and what must not."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from portal.card_numbers import (
    ISSUER_PREFIXES,
    contains_pan,
    find_pans,
    has_issuer_prefix,
    mask_pans,
    might_hold_pan,
)
from tests.support.card_numbers import ASSESSED_SPELLINGS, card_number_spellings

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
        "4242424242424241",  # 16 digits, Visa prefix, Luhn fails
        "+44 20 7946 0958",  # phone numbers, in the ways they are written
        "07700 900 982 / 01632 960 001",
        "0044 7700 900 982",
        "12/03/2026 14:05:09",  # dates and times
        "2026-03-12T14:05:09Z",
        "£1,250,000.00 and 3,400.50",  # amounts
        "1234 5678 9012 3452",  # Luhn-valid, but no card starts with 1
        "9999 9999 9999 9995",  # Luhn-valid, no issuer starts with 99
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
    for number in ("1234567890123", "20240511000123", "4111111111111112", "4242424242424241"):
        assert not luhn.is_valid(number)


def test_prefix_rejected_numbers_are_luhn_valid_so_only_the_prefix_rejects_them():
    for number in ("1234567890123452", "9999999999999995", "7000000000000005"):
        assert luhn.is_valid(number)
        assert not contains_pan(number)
        assert not has_issuer_prefix(number)


@pytest.mark.parametrize("text", ASSESSED_SPELLINGS)
def test_every_spelling_the_assessment_used_is_found_and_masked_whole(text):
    assert contains_pan(text)
    assert mask_pans(f"ref {text} ok") == "ref [REDACTED-PAN] ok"


def test_every_card_in_a_long_run_is_masked():
    run = "4111 1111 1111 1111 5555 5555 5555 4444"
    assert mask_pans(run) == "[REDACTED-PAN] [REDACTED-PAN]"
    assert mask_pans("41111111111111115555555555554444") == "[REDACTED-PAN][REDACTED-PAN]"
    assert [run[a:b] for a, b in find_pans(run)] == ["4111 1111 1111 1111", "5555 5555 5555 4444"]


def test_nfkc_full_width_digits_and_odd_spaces_map_back_to_the_original_text():
    text = "card \uff14\uff11\uff11\uff11\u3000\uff11\uff11\uff11\uff11 1111\u00a01111 end"
    ((start, end),) = list(find_pans(text))
    assert text[:start] == "card " and text[end:] == " end"
    assert mask_pans(text) == "card [REDACTED-PAN] end"


def test_zero_width_and_format_characters_do_not_split_a_number():
    text = "4\u200b1\u200c1\u200d1\u2060 1111\u00ad1111\ufeff1111"
    assert mask_pans(text) == "[REDACTED-PAN]"
    assert contains_pan("4111111111111111".replace("1", "1\u0301"))  # combining marks too


@pytest.mark.parametrize(("first", "last"), [pair for pair in ISSUER_PREFIXES if len(pair[0]) <= 4])
def test_every_issuer_range_is_found_at_both_ends(first, last):
    for prefix in (first, last):
        body = (prefix + "0" * 14)[:15]
        assert contains_pan(body + luhn.calc_check_digit(body)), prefix


def test_a_number_just_outside_an_issuer_range_is_not_a_card():
    for prefix in ("2220", "2721", "3527", "3590", "306", "643", "6010"):
        if has_issuer_prefix(prefix):
            continue  # inside another scheme's range
        body = (prefix + "0" * 14)[:15]
        assert not contains_pan(body + luhn.calc_check_digit(body)), prefix


def test_might_hold_pan_counts_digits_in_any_form():
    assert might_hold_pan("\uff14" * 13)
    assert might_hold_pan("\u2074" * 13)  # superscript four
    assert not might_hold_pan("1" * 12 + " and words")


def test_a_long_run_of_digit_groups_costs_work_in_proportion_to_its_length(monkeypatch):
    """A run of 20,000 short groups (anyone can send one in a header or a CSP report) is
    scanned with a bounded number of candidates per group: no candidate longer than 19 digits
    is tried, so the work is linear, not quadratic. Counted, not timed: a count does not depend
    on the machine (the detector's speed is bench/'s business)."""
    import portal.card_numbers as detector

    groups = 20_000
    tried = []
    real = detector.is_card_number
    monkeypatch.setattr(
        detector, "is_card_number", lambda digits: tried.append(digits) or real(digits)
    )
    text = " ".join(["12"] * groups)
    assert mask_pans(text) == text
    # From each group, spans of 1 to 9 groups (2 to 18 digits) are candidates; the 10th is too long.
    assert 0 < len(tried) <= 9 * groups
    assert max(map(len, tried)) <= 19


@settings(max_examples=300, deadline=None)
@given(case=card_number_spellings())
def test_any_spelling_of_any_card_number_in_any_text_is_masked(case):
    """Proves: a valid card number from any issuer range, in any spelling (groups of any size,
    runs of separators, invisible characters, digits of other forms and scripts), inside any
    text, is found, and masking leaves no digit of it."""
    _, text = case
    assert contains_pan(text)
    masked = mask_pans(text)
    assert not any(ch.isdigit() for ch in unicodedata.normalize("NFKC", masked)), masked


@settings(max_examples=200, deadline=None)
@given(
    first=card_number_spellings(around=False),
    second=card_number_spellings(around=False),
    joint=st.sampled_from([" ", "  ", " - ", ", ", "/"]),
)
def test_two_cards_in_one_run_are_both_masked(first, second, joint):
    masked = mask_pans(first[1] + joint + second[1])
    assert not any(ch.isdigit() for ch in unicodedata.normalize("NFKC", masked)), masked
