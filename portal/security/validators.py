"""Reusable WTForms validators for security rules that apply to every form."""

from __future__ import annotations

from wtforms.validators import ValidationError

from portal.security.pan import contains_pan

CARD_NUMBER_MESSAGE = (
    "This looks like a card number. Card details must never be typed into Postern \u2014 the "
    "customer enters them on their own phone."
)


class NoCardNumbers:
    """Refuse a field whose text contains anything that looks like a card number (13-19
    Luhn-valid digits, with or without spaces or dashes), so a PAN never lands in a reference,
    a note, a log or the database."""

    field_flags = {}

    def __init__(self, message: str = CARD_NUMBER_MESSAGE):
        self.message = message

    def __call__(self, form, field) -> None:
        data = field.data
        if isinstance(data, str) and contains_pan(data):
            # Forget what was typed: the page must not echo a card number back.
            field.data = ""
            field.raw_data = []
            raise ValidationError(self.message)
