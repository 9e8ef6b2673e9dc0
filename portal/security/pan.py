"""Finding card numbers (PANs) in free text.

A PAN is 13 to 19 digits that pass the Luhn check, written together or with single spaces or
dashes between digit groups. Used twice: the log redaction filter masks them, and form
validators refuse them, so that a card number never lands in a reference, a note or a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import luhn

# A run of digit groups joined by single spaces or dashes ("4111 1111 1111 1111 123"). Every
# span of whole groups inside a run is a candidate, so a card number is still found when other
# digits are written next to it (a CVC or an expiry after it, a quantity before it). A span never
# starts or ends inside a group: a PAN is not hidden in the middle of a longer run of digits.
_RUN = re.compile(r"\d+(?:[ \-]\d+)*")
_GROUP = re.compile(r"\d+")
_MIN_DIGITS, _MAX_DIGITS = 13, 19


def _spans_in_run(run: re.Match[str]) -> Iterator[tuple[int, int]]:
    groups = [
        (g.start() + run.start(), g.end() + run.start(), g.group())
        for g in _GROUP.finditer(run.group())
    ]
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last][2]
            if len(digits) > _MAX_DIGITS:
                break
            if len(digits) >= _MIN_DIGITS and luhn.is_valid(digits):
                yield groups[first][0], groups[last][1]


def find_pans(text: str) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` of every plausible card number in ``text`` (length and Luhn).

    Overlapping candidates are merged into one span, in order, so masking every span hides
    every digit of every candidate.
    """
    for run in _RUN.finditer(text):
        if sum(ch.isdigit() for ch in run.group()) < _MIN_DIGITS:
            continue
        merged: tuple[int, int] | None = None
        for start, end in sorted(_spans_in_run(run)):
            if merged and start <= merged[1]:
                merged = (merged[0], max(merged[1], end))
                continue
            if merged:
                yield merged
            merged = (start, end)
        if merged:
            yield merged


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
