"""Finding card numbers (PANs) in free text.

A PAN is 13 to 19 digits that pass the Luhn check, written together or with single spaces or
dashes between digit groups. Used twice: the log redaction filter masks them, and form
validators refuse them, so that a card number never lands in a reference, a note or a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import luhn

# Digits with optional single separators; the look-arounds stop us starting or ending inside a
# longer run of digits.
_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ \-]?\d){12,18}(?![\d])")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def find_pans(text: str) -> Iterator[re.Match[str]]:
    """Yield every match in ``text`` that is a plausible card number (length and Luhn)."""
    for match in _CANDIDATE.finditer(text):
        digits = _digits(match.group())
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            yield match


def contains_pan(text: str | None) -> bool:
    return bool(text) and next(find_pans(text), None) is not None


def mask_pans(text: str, replacement: str = "[REDACTED-PAN]") -> str:
    """Return ``text`` with every card number replaced."""
    pieces, last = [], 0
    for match in find_pans(text):
        pieces.append(text[last : match.start()])
        pieces.append(replacement)
        last = match.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)
