"""Finding card numbers (PANs) in free text: the one detector, used everywhere.

Every place that must keep a card number out (form validators, staff justifications, the
customer's data step, the log redaction filter, audit rows' client metadata, CSP reports) asks
this module, so a spelling caught in one place is caught in all of them.

A PAN here is 13 to 19 digits that pass the Luhn check and start with a plausible issuer prefix
(``ISSUER_PREFIXES``), however they are written. Before looking, the text is read the way a
person would read it:

- NFKC-normalised, one character at a time: full-width digits, superscripts, no-break, thin and
  narrow no-break spaces become plain digits and spaces (and any script's decimal digits count
  as digits);
- format and combining characters (Unicode Cf, Mn, Me: zero-width spaces and joiners, soft
  hyphens, direction marks) are ignored, so they cannot split a number;
- any run of separators may stand between digit groups: whitespace and control characters,
  dots, slashes, commas, underscores and every dash (hyphen, en and em dash, minus sign).

Spans are always reported in the ORIGINAL text, so masking hides every character of the card
number as it was typed, zero-width characters and odd spaces included.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache
from itertools import islice

from stdnum import luhn

_MIN_DIGITS, _MAX_DIGITS = 13, 19

#: Issuer identification number ranges that card numbers start with, as (first, last) prefixes
#: of equal length, inclusive. python-stdnum has the Luhn check but no issuer table, so the
#: table lives here. A number starting elsewhere (most phone numbers, order numbers, timestamps)
#: is not a card number, which keeps false positives down. Sources: the schemes' published
#: ranges (ISO/IEC 7812 registrations as the card brands document them).
ISSUER_PREFIXES: tuple[tuple[str, str], ...] = (
    ("4", "4"),  # Visa (Visa Electron, and Cartes Bancaires co-badged cards, too)
    ("51", "55"),  # Mastercard
    ("2221", "2720"),  # Mastercard 2-series
    ("34", "34"),  # American Express
    ("37", "37"),  # American Express
    ("6011", "6011"),  # Discover
    ("644", "649"),  # Discover
    ("65", "65"),  # Discover, RuPay
    ("3528", "3589"),  # JCB
    ("300", "305"),  # Diners Club International
    ("36", "36"),  # Diners Club International
    ("38", "39"),  # Diners Club (Discover network)
    ("62", "62"),  # UnionPay
    ("50", "50"),  # Maestro
    ("56", "69"),  # Maestro (and other domestic schemes in the 6-range)
    ("2200", "2204"),  # Mir
    ("81", "82"),  # RuPay
)

#: Characters that may separate digit groups (after NFKC), besides whitespace, control
#: characters and Unicode dash punctuation (category Pd: hyphen, en dash, em dash, ...).
_SEPARATORS = frozenset("./,_\u2212")
#: Ignored entirely: format characters (zero-width space and joiners, soft hyphen, BOM,
#: direction marks) and combining marks, which render as nothing or on top of a digit.
_IGNORED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
#: In the normalised view every separator becomes this one character.
_SEP = " "
_RUN = re.compile(r"[0-9]+(?: +[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
#: Longest digit group tried as card numbers written back to back with nothing between them
#: ("41111111111111115555555555554444"); longer runs of digits are not cards.
_MAX_TILED_DIGITS = 4 * _MAX_DIGITS


@cache
def _digit_like() -> re.Pattern[str]:
    """Characters that are, or NFKC-normalise to something holding, a decimal digit (``\\d``
    plus superscripts, circled digits and the like), for the fast "is there enough here to
    hold a card number?" check. Built on first use: a scan of the Basic Multilingual Plane
    (digits beyond it, such as mathematical digits, are ``\\d`` already)."""
    extra = [
        chr(code)
        for code in range(0x80, 0x10000)
        if not 0xD800 <= code < 0xE000
        and not chr(code).isdecimal()
        and any(ch.isdecimal() for ch in unicodedata.normalize("NFKC", chr(code)))
    ]
    return re.compile("[\\d" + re.escape("".join(extra)) + "]")


def might_hold_pan(text: str) -> bool:
    """A cheap first look: does ``text`` have at least 13 digit-like characters? Text that
    does not can hold no card number in any spelling."""
    return sum(1 for _ in islice(_digit_like().finditer(text), _MIN_DIGITS)) == _MIN_DIGITS


def _is_separator(ch: str) -> bool:
    return (
        ch in _SEPARATORS
        or ch.isspace()
        or unicodedata.category(ch) in ("Pd", "Cc", "Zs", "Zl", "Zp")
    )


def normalised_view(text: str) -> tuple[str, list[int]]:
    """``text`` as the detector reads it, and for each character of that view the index of the
    original character it came from. Digits become ASCII digits, separators one space, ignored
    characters disappear; everything else stays (NFKC-normalised)."""
    view: list[str] = []
    origin: list[int] = []
    for index, original in enumerate(text):
        if unicodedata.category(original) in _IGNORED_CATEGORIES:
            continue
        for ch in unicodedata.normalize("NFKC", original):
            if unicodedata.category(ch) in _IGNORED_CATEGORIES:
                continue
            if ch.isdecimal():
                view.append(str(unicodedata.decimal(ch)))
            elif _is_separator(ch):
                view.append(_SEP)
            else:
                view.append(ch)
            origin.append(index)
    return "".join(view), origin


def has_issuer_prefix(digits: str) -> bool:
    """Whether ``digits`` starts with a prefix in ``ISSUER_PREFIXES``."""
    for first, last in ISSUER_PREFIXES:
        head = digits[: len(first)]
        if len(head) == len(first) and first <= head <= last:
            return True
    return False


def is_card_number(digits: str) -> bool:
    """Whether a string of ASCII digits is a plausible card number: 13-19 digits, a known
    issuer prefix, and a valid Luhn check digit."""
    return (
        _MIN_DIGITS <= len(digits) <= _MAX_DIGITS
        and digits.isascii()
        and digits.isdigit()
        and has_issuer_prefix(digits)
        and luhn.is_valid(digits)
    )


def _tiles(digits: str) -> list[int] | None:
    """Where to cut a digit group written without separators so that every piece is a card
    number (lengths of the pieces), or None if it cannot be cut so."""
    if len(digits) > _MAX_TILED_DIGITS:
        return None
    # ways[i]: a piece length ending a tiling of digits[:i] (0 for the empty prefix).
    ways: dict[int, int] = {0: 0}
    for end in range(_MIN_DIGITS, len(digits) + 1):
        for size in range(_MIN_DIGITS, min(_MAX_DIGITS, end) + 1):
            if end - size in ways and is_card_number(digits[end - size : end]):
                ways[end] = size
                break
    if len(digits) not in ways:
        return None
    sizes, end = [], len(digits)
    while end:
        sizes.append(ways[end])
        end -= ways[end]
    return sizes[::-1]


def _groups(run: re.Match[str]) -> list[tuple[int, int, str]]:
    """The digit groups of a run as (start, end, digits) in the view; a group too long to be
    one card number but made of several written back to back is split into them."""
    groups = []
    for match in _GROUP.finditer(run.group()):
        start, digits = match.start() + run.start(), match.group()
        sizes = _tiles(digits) if len(digits) > _MAX_DIGITS else None
        if sizes is None:
            groups.append((start, start + len(digits), digits))
            continue
        for size in sizes:
            groups.append((start, start + size, digits[:size]))
            start, digits = start + size, digits[size:]
    return groups


def _spans_in_run(run: re.Match[str]) -> Iterator[tuple[int, int]]:
    """Every span of whole groups inside a run that is a card number. A span never starts or
    ends inside a group, so digits written next to a card (a CVC or an expiry after it, a
    quantity before it) do not hide it, and a PAN is not invented from the middle of a group."""
    groups = _groups(run)
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last][2]
            if len(digits) > _MAX_DIGITS:
                break
            if is_card_number(digits):
                yield groups[first][0], groups[last][1]


def _view_spans(view: str) -> Iterator[tuple[int, int]]:
    """Spans in the view; overlapping candidates merged, in order."""
    for run in _RUN.finditer(view):
        if sum(ch != _SEP for ch in run.group()) < _MIN_DIGITS:
            continue
        merged: tuple[int, int] | None = None
        for start, end in sorted(_spans_in_run(run)):
            if merged and start < merged[1]:
                merged = (merged[0], max(merged[1], end))
                continue
            if merged:
                yield merged
            merged = (start, end)
        if merged:
            yield merged


def find_pans(text: str) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` in ``text`` of every card number, however it is spelled.

    Overlapping candidates are merged into one span, so masking every span hides every digit of
    every candidate. A span covers the original characters from the first digit to the last,
    separators and invisible characters between them included.
    """
    if not text or not might_hold_pan(text):
        return
    view, origin = normalised_view(text)
    for start, end in _view_spans(view):
        yield origin[start], origin[end - 1] + 1


def contains_pan(text: str | None) -> bool:
    return bool(text) and next(find_pans(text), None) is not None


def mask_pans(text: str, replacement: str = "[REDACTED-PAN]") -> str:
    """Return ``text`` with every card number replaced."""
    pieces, last = [], 0
    for start, end in find_pans(text):
        pieces.append(text[last:start])
        pieces.append(replacement)
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)
