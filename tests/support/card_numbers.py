"""Card numbers for tests: valid ones from every issuer range, and the many ways people (and
copy-paste from emails) write them. Shared by the detector's unit tests and the tests that
push card numbers through every input of the product (tests/security/test_pan_everywhere.py).
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import strategies as st
from stdnum import luhn

from portal.card_numbers import ISSUER_PREFIXES

#: The 17 spellings of 4242424242424242 the assessment typed into the agent's fields.
ASSESSED_SPELLINGS = [
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    "4242\u00a04242\u00a04242\u00a04242",  # no-break space
    "4242\u20094242\u20094242\u20094242",  # thin space
    "4242\u202f4242\u202f4242\u202f4242",  # narrow no-break space
    "4242  4242  4242  4242",  # double spaces
    "4242.4242.4242.4242",
    "4242/4242/4242/4242",
    "4242_4242_4242_4242",
    "4242,4242,4242,4242",
    "4242\u20134242\u20134242\u20134242",  # en dash
    "4242\u20144242\u20144242\u20144242",  # em dash
    "4242\u200b4242\u200b4242\u200b4242",  # zero-width space
    "4242\t4242\t4242\t4242",
    "\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12",
    "4242 \u200b4242\u00a0\u00a04242\u2013 4242",  # several at once
]

#: What may stand between digit groups.
SEPARATORS = [
    " ",
    "\t",
    ".",
    "/",
    "-",
    "_",
    ",",
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u2007",  # figure space
    "\u3000",  # ideographic space
    "\u2010",  # hyphen
    "\u2011",  # non-breaking hyphen
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u2212",  # minus sign
    "\uff0d",  # full-width hyphen-minus
    "\uff0e",  # full-width full stop
]
#: Characters that show as nothing.
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
#: Zero in scripts and forms that NFKC reads as the digits 0-9 (add the digit to it).
DIGIT_ZEROS = [ord("0"), 0xFF10, 0x0660, 0x06F0, 0x0966, 0x1D7CE, 0x1D7D8, 0x2080, 0x1D7F6]


def shows_number(text: str, digits: str) -> bool:
    """Whether text shows digits as a number of their own. The same digits inside a longer run
    of letters and digits (a thread id, a random id or token, hex) or after a decimal point (a
    timestamp's microseconds) are chance, not a leak: searched for bare, four digits turn up in
    one run in a few hundred."""
    return re.search(rf"(?<![0-9A-Za-z.]){re.escape(digits)}(?![0-9A-Za-z])", text) is not None


def shows_card_digits(text: str, last4: str = "4242") -> bool:
    """Whether text shows a card's last four digits, alone or after a mask (XXXX4242), or the
    whole test card 4242424242424242."""
    masked = re.search(rf"[Xx*\u2022]{{4,}}[ -]?{last4}", text)
    return shows_number(text, last4) or masked is not None or "4242424242424242" in text


def _no_digit_in(ch: str) -> bool:
    return not any(c.isdigit() for c in unicodedata.normalize("NFKC", ch))


#: Text around a card number: letters, punctuation and spaces, never anything read as a digit.
AROUND = st.text(
    alphabet=st.characters(exclude_categories=("Nd", "No", "Cs"), exclude_characters="\x00").filter(
        _no_digit_in
    ),
    max_size=12,
)


@st.composite
def card_numbers(draw) -> str:
    """A valid card number (ASCII digits): an issuer prefix from every range, 13-19 digits."""
    first, last = draw(st.sampled_from(ISSUER_PREFIXES))
    prefix = str(draw(st.integers(int(first), int(last)))).zfill(len(first))
    length = draw(st.integers(13, 19))
    body = prefix + draw(
        st.text(alphabet="0123456789", min_size=length - len(prefix) - 1, max_size=18)
    )
    body = body[: length - 1]
    return body + luhn.calc_check_digit(body)


def _digit(ch: str, zero: int) -> str:
    return chr(zero + int(ch))


@st.composite
def spelled(draw, number: str) -> str:
    """``number`` written as a person might: cut into groups of any size, with any run of
    separators between them, invisible characters here and there, digits full-width or in
    another script."""
    groups, rest = [], number
    while rest:
        size = draw(st.integers(1, 8))
        groups.append(rest[:size])
        rest = rest[size:]
    zero = draw(st.sampled_from(DIGIT_ZEROS))
    mixed = draw(st.booleans())
    pieces = []
    for index, group in enumerate(groups):
        if index:
            pieces.append(
                "".join(draw(st.lists(st.sampled_from(SEPARATORS), min_size=0, max_size=3)))
            )
        for ch in group:
            this_zero = draw(st.sampled_from(DIGIT_ZEROS)) if mixed else zero
            pieces.append(_digit(ch, this_zero))
            if draw(st.integers(0, 9)) == 0:
                pieces.append(draw(st.sampled_from(INVISIBLE)))
    return "".join(pieces)


@st.composite
def card_number_spellings(draw, around: bool = True) -> tuple[str, str]:
    """``(digits, text)``: a valid card number and a text holding it in some spelling (with
    text around it when ``around``)."""
    number = draw(card_numbers())
    text = draw(spelled(number))
    if around:
        text = draw(AROUND) + " " + text + " " + draw(AROUND)
    return number, text
