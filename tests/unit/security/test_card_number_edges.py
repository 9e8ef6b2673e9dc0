"""Card numbers at the edges of what the detector reads: cards written back to back up to the
longest run it splits, control characters between groups, short digit runs before a card, and
letters that keep digits apart."""

from __future__ import annotations

import pytest
from stdnum import luhn

from portal.card_numbers import contains_pan, find_pans, mask_pans

MASK = "[REDACTED-PAN]"


def _card(prefix: str, length: int) -> str:
    body = (prefix + "0123456789" * 2)[: length - 1]
    return body + luhn.calc_check_digit(body)


VISA_13 = _card("4", 13)
VISA_16 = _card("4", 16)
MC_18 = _card("51", 18)
VISA_19 = _card("4", 19)
MC_19 = _card("55", 19)


def test_the_test_cards_are_cards():
    for number, length in ((VISA_13, 13), (VISA_16, 16), (MC_18, 18), (VISA_19, 19)):
        assert len(number) == length and contains_pan(number)


def test_four_nineteen_digit_cards_back_to_back_are_all_masked():
    run = VISA_19 + MC_19 + VISA_19 + MC_19  # 76 digits: the longest run split into cards
    assert mask_pans(f"ref {run} end") == f"ref {MASK * 4} end"


def test_two_eighteen_and_two_nineteen_digit_cards_back_to_back_are_masked():
    assert mask_pans(MC_18 + MC_18) == MASK * 2
    assert mask_pans(VISA_19 + MC_19) == MASK * 2


@pytest.mark.parametrize(
    "cards",
    [(VISA_13, VISA_19), (VISA_19, VISA_13), (VISA_13, VISA_16, MC_19), (MC_18, VISA_13)],
    ids=["13+19", "19+13", "13+16+19", "18+13"],
)
def test_cards_of_different_lengths_back_to_back_are_each_masked(cards):
    run = "".join(cards)
    spans = list(find_pans(run))
    assert [run[start:end] for start, end in spans] == list(cards)
    assert mask_pans(run) == MASK * len(cards)


def test_a_longer_run_of_digits_is_not_split_into_cards():
    """Past 76 digits a run is a serial number or a hash, not cards typed back to back."""
    run = VISA_19 + MC_19 + VISA_19 + MC_19 + "5"
    assert mask_pans(run) == run


@pytest.mark.parametrize("control", ["\x07", "\x1b", "\x00", "\x7f", "\x85"])
def test_control_characters_between_groups_do_not_hide_a_card(control):
    text = f"ref 4111{control}1111{control}1111{control}1111 end"
    assert mask_pans(text) == f"ref {MASK} end"


@pytest.mark.parametrize(
    "dash", ["-", "\u2010", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d", "--", " - "]
)
def test_any_dash_between_groups_does_not_hide_a_card(dash):
    assert mask_pans(f"4111{dash}1111{dash}1111{dash}1111") == MASK


@pytest.mark.parametrize(
    "text",
    [
        "4111x1111x1111x1111",
        "4111 1111 ab 1111 1111",
        "41111111\u0e3311111111",  # Thai SARA AM: NFKC splits it into a mark and a letter
        "40\u00b2 4111111111111",
    ],
)
def test_letters_keep_digits_apart(text):
    assert not contains_pan(text)
    assert mask_pans(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Invoice 12 for card 4111 1111 1111 1111",
        "case 77, order 4 then 4111111111111111 paid",
        "room 101 / ref ab 4111-1111-1111-1111",
    ],
)
def test_a_short_number_earlier_in_the_text_does_not_hide_a_later_card(text):
    masked = mask_pans(text)
    assert MASK in masked and "4111" not in masked


def test_every_card_in_text_with_numbers_between_them_is_masked():
    text = f"first {VISA_16} call 12 then {MC_19} and {VISA_13} end"
    assert mask_pans(text) == f"first {MASK} call 12 then {MASK} and {MASK} end"


def test_a_span_ends_on_the_cards_last_character_whatever_follows():
    for text in (f"{VISA_16}.", f"{VISA_16} 12", f"{VISA_16}\u200b", f"x{VISA_16}9y"):
        if not contains_pan(text):
            continue
        ((start, end),) = list(find_pans(text))
        assert text[start:end].replace("\u200b", "") == VISA_16, text


def test_a_card_at_the_very_end_of_the_text_is_masked_to_its_last_digit():
    assert mask_pans(f"ends with {VISA_16}") == f"ends with {MASK}"
    assert mask_pans(f"{VISA_16}") == MASK
    assert mask_pans("4111 1111 1111 1111") == MASK
