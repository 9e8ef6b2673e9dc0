"""Where a link may be sent: normalising and masking mobile numbers and email addresses.

Forms call ``normalise_phone`` / ``normalise_email`` on what an agent typed; the outbox stores
only the normalised value, and every screen shows it through ``mask_destination``.

``normalise_destination`` returns a ``Normalised`` value: a plain string that also carries its
channel and its masked form, so the outbox, given it, neither parses the number again nor to mask
it (parsing a phone number costs about 0.2 ms, and creating a request used to do it three times).

Mobile numbers only. A UK landline "receives" a text through a text-to-speech service that
reads it aloud, which would speak the one-time link over a line others may hear; premium,
freephone, personal (070) and VoIP numbers are refused for the same reason: no reliable SMS.
Ofcom's drama range (07700 900000 to 900999) is accepted as a mobile number although
``phonenumbers`` calls it unallocated: it exists for examples, demos and tests, and a real
provider simply reports it as undeliverable.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from portal.card_numbers import contains_pan
from portal.i18n import N_

SMS, EMAIL = "sms", "email"
CHANNELS = (SMS, EMAIL)

PHONE_HELP = N_(
    "Enter a UK mobile number, like 07700 900123, or an international number starting with +"
)
CARD_NUMBER_REFUSED = N_(
    "That looks like a card number. Never type card numbers here: enter the customer's "
    "mobile number or email address."
)
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
#: Ofcom's numbers for drama and examples: +44 7700 900000 to +44 7700 900999.
_OFCOM_DRAMA_MOBILE = re.compile(r"^\+447700900\d{3}$")
MASK = "\u2022"  # a bullet, so a masked value can never be mistaken for digits or letters

_MAX_INPUT = 64


def _is_written_internationally(text: str) -> bool:
    return text.startswith(("+", "00"))


class Normalised(str):
    """A destination as ``normalise_destination`` returned it, for ``channel``, with its
    ``masked`` form (``mask_destination``). Compares, stores and prints as the plain string;
    copied or pickled, it is the plain string."""

    channel: str
    masked: str

    def __new__(cls, value: str, channel: str, masked: str) -> Normalised:
        made = super().__new__(cls, value)
        made.channel, made.masked = channel, masked
        return made

    def __reduce__(self):
        return (str, (str(self),))


def normalise_phone(text: str, default_region: str = "GB") -> str:
    """Return ``text`` as an E.164 mobile number, e.g. ``+447911123456``.

    Numbers without a country code are read as ``default_region`` numbers.
    Raises ValueError with a message fit to show the agent when the text is not a valid
    mobile number, carries an extension, or looks like a card number.
    """
    return phonenumbers.format_number(_mobile_number(text, default_region), PhoneNumberFormat.E164)


def _mobile_number(text: str, default_region: str = "GB") -> phonenumbers.PhoneNumber:
    """``text`` parsed as a mobile number (``normalise_phone`` says what is refused)."""
    cleaned = (text or "").strip()
    if not cleaned or len(cleaned) > _MAX_INPUT:
        raise ValueError(PHONE_HELP)
    # A card number never starts with "+" or "00", so a Luhn-valid run of digits written
    # that way may still be a (long) international mobile number; anything else is refused.
    if contains_pan(cleaned) and not _is_written_internationally(cleaned):
        raise ValueError(CARD_NUMBER_REFUSED)
    try:
        number = phonenumbers.parse(cleaned, default_region)
    except phonenumbers.NumberParseException:
        raise ValueError(PHONE_HELP) from None
    if number.extension:
        raise ValueError(N_("Enter a mobile number without an extension."))
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if _OFCOM_DRAMA_MOBILE.match(e164):
        return number
    if not phonenumbers.is_valid_number(number):
        if contains_pan(cleaned):
            raise ValueError(CARD_NUMBER_REFUSED)
        raise ValueError(PHONE_HELP)
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise ValueError(
            "That is not a mobile number, so it cannot receive a text. " + PHONE_HELP + "."
        )
    return number


def normalise_email(text: str) -> str:
    """Return ``text`` as a normalised email address (domain lower-cased, IDN kept readable).

    Does not look the domain up (no network calls while an agent is on a call).
    Raises ValueError with a plain message when the address is not valid or contains what
    looks like a card number.
    """
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValueError(N_("Enter an email address, like name@example.com"))
    if contains_pan(cleaned):
        raise ValueError(CARD_NUMBER_REFUSED)
    try:
        result = validate_email(cleaned, check_deliverability=False)
    except EmailNotValidError as problem:
        raise ValueError(str(problem)) from None
    return result.normalized


def normalise_destination(channel: str, text: str) -> Normalised:
    """Normalise ``text`` for ``channel`` ("sms" or "email"). Raises ValueError. ``text``
    already normalised for ``channel`` (a ``Normalised``) is returned as it is, unparsed."""
    if isinstance(text, Normalised) and text.channel == channel:
        return text
    if channel == SMS:
        number = _mobile_number(text)
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        return Normalised(e164, SMS, _masked_number(number))
    if channel == EMAIL:
        address = normalise_email(text)
        return Normalised(address, EMAIL, _mask_email(address))
    raise ValueError(f"Unknown delivery channel {channel!r}")


def _mask_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return MASK * 3
    return _masked_number(number)


def _masked_number(number: phonenumbers.PhoneNumber) -> str:
    national = phonenumbers.national_significant_number(number)
    if len(national) < 5:
        return f"+{number.country_code} " + MASK * 3
    hidden = len(national) - 4
    groups = [3] * (hidden // 3)
    if hidden % 3 == 1 and groups:
        groups[-1] += 1  # no lonely single bullet
    elif hidden % 3:
        groups.append(hidden % 3)
    groups = [MASK * size for size in groups]
    return f"+{number.country_code} {national[0]}{groups[0]} {' '.join(groups[1:])} {national[-3:]}"


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    if not local:
        return MASK * 3
    return f"{local[0]}{MASK * 3}@{domain}"


def mask_destination(channel: str, value: str) -> str:
    """Return ``value`` with most of it hidden: ``+44 7••• ••• 123``, ``j•••@example.com``.

    Enough for an agent to confirm with the customer where the link went, not enough to
    reveal the number or address to someone looking over a shoulder.
    """
    if isinstance(value, Normalised) and value.channel == channel:
        return value.masked
    if channel == SMS:
        return _mask_phone(value)
    if channel == EMAIL:
        return _mask_email(value)
    return MASK * 3
