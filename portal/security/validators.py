"""Reusable WTForms validators for security rules that apply to every form."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from wtforms.validators import ValidationError

from portal.card_numbers import contains_pan
from portal.i18n import N_, lazy_gettext

#: Plain ``str``: the API and the capture rules send it as it is (JSON); a form shows it
#: translated (``NoCardNumbers``).
CARD_NUMBER_MESSAGE = N_(
    "This looks like a card number. Card details must never be typed into Postern \u2014 the "
    "customer enters them on their own phone."
)


def has_control_characters(text: str) -> bool:
    """NULs, control and invisible formatting characters (a right-to-left override can make
    text read as something else; PostgreSQL refuses a NUL outright)."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


class RefuseAndForget:
    """Refuse a field whose text ``refuses`` and forget what was typed, so the page does not
    echo it back."""

    field_flags = {}

    def __init__(self, refuses: Callable[[str], bool], message: str):
        self.refuses = refuses
        self.message = message

    def __call__(self, form, field) -> None:
        data = field.data
        if isinstance(data, str) and self.refuses(data):
            field.data = ""
            field.raw_data = []
            raise ValidationError(self.message)


class NoCardNumbers(RefuseAndForget):
    """Refuse a field whose text contains anything that looks like a card number, in any
    spelling ``portal.card_numbers`` reads (odd spaces, dots, dashes, zero-width characters,
    full-width digits...), so a PAN never lands in a reference, a note, a log or the database."""

    def __init__(self, message: str | None = None):
        super().__init__(
            contains_pan, lazy_gettext(CARD_NUMBER_MESSAGE) if message is None else message
        )


class NoControlCharacters(RefuseAndForget):
    """Refuse a field holding control or invisible formatting characters."""

    def __init__(self, message: str):
        super().__init__(has_control_characters, message)
