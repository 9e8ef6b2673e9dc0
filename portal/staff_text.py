"""The one rule for the free text a staff member types to justify an action: why a value is
revealed, exported or erased, a refund's note, why a refund was rejected. It goes into the
audit trail (and some of it into the database), so it must say something, stay short and
never hold a card number, nor control or bidirectional formatting characters.

Plain Python over ``portal.card_numbers`` and ``portal.security.input``'s text rule: every
domain package may use it without a cycle.
"""

from __future__ import annotations

from portal.card_numbers import contains_pan
from portal.security.input import tidy_typed_text

#: Longest justification kept (the width of the refund note columns, too).
MAX_JUSTIFICATION_LENGTH = 200


def checked_justification(text: str | None, *, error: type[Exception], what: str = "reason") -> str:
    """``text`` with every run of whitespace (newlines and tabs too) made one space, and
    control and bidirectional formatting characters removed (``tidy_typed_text``).

    Raises ``error`` (the caller's own exception class, so each domain keeps its errors) with a
    sentence naming ``what`` when the text is empty, longer than MAX_JUSTIFICATION_LENGTH or
    looks like it holds a card number. The message never repeats the text.
    """
    tidied = " ".join(tidy_typed_text(text or "").split())
    if not tidied:
        raise error(f"Give a {what}: it is recorded in the audit trail.")
    if len(tidied) > MAX_JUSTIFICATION_LENGTH:
        raise error(f"Keep the {what} to {MAX_JUSTIFICATION_LENGTH} characters.")
    if contains_pan(tidied):
        raise error(f"The {what} looks like it contains a card number. Remove it.")
    return tidied
