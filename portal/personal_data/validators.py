"""Checking and normalising each kind of personal-data field. Pure functions: no I/O.

Every normaliser takes the customer's input (already stripped, never empty) and the field's
label, and returns the value to store in one canonical form, or raises ``FieldValueError``
with a plain message that names the field and says what to fix, in the language of the page in
flight (``portal.i18n``: English outside a request).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from schwifty import IBAN
from schwifty import exceptions as iban_errors

from portal.i18n import N_, gettext

#: Youngest and oldest plausible customer, in whole years, for a date of birth.
MIN_AGE_YEARS = 16
MAX_AGE_YEARS = 120


#: The boxes of a date, as a message names the ones left empty.
DATE_PARTS = {"day": N_("day"), "month": N_("month"), "year": N_("year")}


class FieldValueError(ValueError):
    """A value the customer typed is not acceptable; ``str(error)`` is the message to show."""


def plain_label(label: str) -> str:
    """``"County (optional)"`` -> ``"County"``: how a field is named inside a message, in the
    language of the page in flight (``"Sir (dewisol)"`` -> ``"Sir"``)."""
    return re.sub(r"\s*\((optional|dewisol)\)$", "", gettext(label))


# --- Free text --------------------------------------------------------------------------------


def normalise_text(value: str, label: str) -> str:
    """Collapse runs of spaces; refuse control characters (line breaks, tabs, NULs)."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise FieldValueError(
            gettext(
                "%(name)s must be on one line, without special characters", name=plain_label(label)
            )
        )
    return " ".join(value.split())


# --- UK postcode ------------------------------------------------------------------------------

# From the UK Government's postcode pattern, published by the Home Office in "Bulk Data Transfer:
# additional validation for CAS upload" (valid from 12 November 2015), section 3.1, and quoted
# by Wikipedia's "Postcodes in the United Kingdom - Validation". Adapted: it is applied to
# upper-cased input with spaces removed; it is anchored as a whole (with ``fullmatch``: in the
# published text ``^`` and ``$`` bind only to the first and last alternatives); and the digit in
# the AA9A form (e.g. EC1A) is mandatory, since the published ``[0-9]?`` also admits outward codes
# of three letters, which no postcode has. British Forces (BFPO) addresses are not accepted.
_POSTCODE = re.compile(
    r"GIR0AA"
    r"|(?:[A-Z][0-9]{1,2}|[A-Z][A-HJ-Y][0-9]{1,2}|[A-Z][0-9][A-Z]|[A-Z][A-HJ-Y][0-9][A-Z])"
    r"[0-9][A-Z]{2}"
)


def normalise_postcode(value: str, label: str) -> str:
    """``"sw1a1aa"`` -> ``"SW1A 1AA"`` (outward code, one space, inward code)."""
    compact = re.sub(r"\s+", "", value).upper()
    if not _POSTCODE.fullmatch(compact):
        raise FieldValueError(
            gettext("Enter a real %(name)s, like SW1A 1AA", name=plain_label(label).lower())
        )
    return f"{compact[:-3]} {compact[-3:]}"


# --- Date of birth ----------------------------------------------------------------------------


def _age_on(today: date, born: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_date_of_birth(born: date, label: str, today: date) -> str:
    """Refuse dates in the future or outside ages 16 to 120; return the ISO date."""
    name = plain_label(label)
    if born >= today:
        raise FieldValueError(gettext("%(name)s must be in the past", name=name))
    age = _age_on(today, born)
    if age < MIN_AGE_YEARS:
        raise FieldValueError(
            gettext(
                "%(name)s must show you are %(age)d or older. Check the year you entered",
                name=name,
                age=MIN_AGE_YEARS,
            )
        )
    if age > MAX_AGE_YEARS:
        raise FieldValueError(
            gettext(
                "%(name)s must be within the last %(years)d years. Check the year you entered",
                name=name,
                years=MAX_AGE_YEARS,
            )
        )
    return born.isoformat()


def date_from_parts(day: str, month: str, year: str, label: str, today: date) -> str:
    """Three separate inputs (GOV.UK's date pattern) -> ``"YYYY-MM-DD"``."""
    name = plain_label(label)
    parts = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    missing = [part for part, text in parts.items() if not text]
    if missing:
        words = [gettext(DATE_PARTS[part]) for part in missing]
        raise FieldValueError(
            gettext(
                "%(name)s must include a %(parts)s", name=name, parts=gettext(" and ").join(words)
            )
        )
    if not all(text.isascii() and text.isdigit() and len(text) <= 4 for text in parts.values()):
        raise FieldValueError(
            gettext("%(name)s must be a real date, written in numbers, like 27 3 1985", name=name)
        )
    if len(parts["year"]) != 4:
        raise FieldValueError(gettext("Year in %(name)s must include 4 numbers", name=name.lower()))
    try:
        born = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        raise FieldValueError(gettext("%(name)s must be a real date", name=name)) from None
    return check_date_of_birth(born, label, today)


def normalise_date_of_birth(value: str, label: str, today: date) -> str:
    """An ISO date (``1985-03-27``, as a single date input sends) -> the same, range-checked."""
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise FieldValueError(
            gettext("%(name)s must be a real date, like 1985-03-27", name=plain_label(label))
        ) from None
    return check_date_of_birth(born, label, today)


# --- National Insurance number ----------------------------------------------------------------

# python-stdnum (2.2, pinned) has no UK National Insurance number module (stdnum.gb offers nhs,
# sedol, upn, utr and vat only), so the format is checked here, following HMRC's National
# Insurance Manual NIM39110: two prefix letters (the first never D, F, I, Q, U or V; the second
# never D, F, I, O, Q, U or V; BG, GB, KN, NK, NT, TN and ZZ never issued), six digits and a
# suffix letter A to D. A NINO has no check digit, so a well-formed number may still be wrong.
_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]")
#: The example the error gives (and the field's hint in config/field_sets.py). It must pass the
#: check above: GOV.UK's "QQ 12 34 56 C" does not (Q is never a first letter), and a customer
#: who copies the example's shape should not be refused for it.
NI_NUMBER_EXAMPLE = "AB 12 34 56 C"


def normalise_ni_number(value: str, label: str) -> str:
    """``"ab 12 34 56 c"`` -> ``"AB123456C"``."""
    compact = re.sub(r"[\s-]+", "", value).upper()
    if not _NINO.fullmatch(compact):
        raise FieldValueError(
            gettext(
                "Enter a %(name)s in the correct format, like %(example)s",
                name=plain_label(label),
                example=NI_NUMBER_EXAMPLE,
            )
        )
    return compact


# --- UK bank account (Direct Debit) -----------------------------------------------------------

# python-stdnum (2.2) validates no UK sort codes or account numbers, and the real check (Vocalink's
# modulus checking) needs a licensed table that changes monthly. So these check the FORMAT only,
# strictly; the bank confirms the account when the Direct Debit is set up.
_SORT_CODE = re.compile(r"([0-9]{2})[ -]?([0-9]{2})[ -]?([0-9]{2})")


def normalise_sort_code(value: str, label: str) -> str:
    """``"309457"``, ``"30 94 57"`` or ``"30-94-57"`` -> ``"30-94-57"``."""
    match = _SORT_CODE.fullmatch(value)
    if match is None:
        digits = re.sub(r"[\s-]", "", value)
        if digits.isascii() and digits.isdigit():
            raise FieldValueError(
                gettext("%(name)s must be 6 digits long, like 30-94-57", name=plain_label(label))
            )
        raise FieldValueError(
            gettext("Enter a %(name)s like 30-94-57", name=plain_label(label).lower())
        )
    return "-".join(match.groups())


def normalise_account_number(value: str, label: str) -> str:
    """Eight digits, spaces allowed while typing: ``"0073 3445"`` -> ``"00733445"``."""
    digits = re.sub(r"[\s-]", "", value)
    name = plain_label(label)
    if not (digits.isascii() and digits.isdigit()):
        raise FieldValueError(
            gettext("%(name)s must only include numbers, like 00733445", name=name)
        )
    if len(digits) != 8:
        raise FieldValueError(gettext("%(name)s must be 8 digits long, like 00733445", name=name))
    return digits


# --- IBAN -------------------------------------------------------------------------------------


def normalise_iban(value: str, label: str) -> str:
    """Any country's IBAN, checked by ``schwifty`` (ISO 13616 check digits, the country's
    length and structure, and the national BBAN checksum where one exists) -> compact form."""
    try:
        return IBAN(value, validate_bban=True).compact
    except iban_errors.InvalidChecksumDigits:
        raise FieldValueError(
            gettext("The IBAN’s check digits do not match. Check you copied it correctly")
        ) from None
    except iban_errors.InvalidCountryCode:
        raise FieldValueError(
            gettext("IBAN must start with a country code, like DE or FR")
        ) from None
    except iban_errors.InvalidLength:
        raise FieldValueError(
            gettext("IBAN is the wrong length for its country. Check you copied all of it")
        ) from None
    except iban_errors.InvalidStructure:
        raise FieldValueError(
            gettext("IBAN must only include letters and numbers, like DE89 3704 0044 0532 0130 00")
        ) from None
    except iban_errors.SchwiftyException:
        raise FieldValueError(
            gettext("IBAN is not a real account number. Check you copied it correctly")
        ) from None


# --- Email and telephone ----------------------------------------------------------------------


def normalise_email(value: str, label: str) -> str:
    """Syntax checked by ``email-validator``; no DNS look-up (offline, and no tell-tale queries)."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise FieldValueError(
            gettext(
                "Enter an %(name)s in the correct format, like name@example.com",
                name=plain_label(label).lower(),
            )
        ) from None


def normalise_phone(value: str, label: str) -> str:
    """UK numbers as dialled at home, or any number with its country code -> E.164."""
    message = gettext(
        "Enter a %(name)s, like 01632 960 001, 07700 900 982 or +44 808 157 0192",
        name=plain_label(label).lower(),
    )
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        raise FieldValueError(message) from None
    if not phonenumbers.is_valid_number(number):
        raise FieldValueError(message)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- The registry of kinds --------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How one kind of field is checked and shown.

    ``free_text``: anything may be typed, so a card number could be; such fields refuse them.
    ``needs_today``: the normaliser takes today's date as a third argument.
    """

    name: str
    normalise: Callable[..., str]
    free_text: bool = False
    input_type: str = "text"
    spellcheck: bool = False
    needs_today: bool = False


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("text", normalise_text, free_text=True, spellcheck=True),
        Kind("name", normalise_text, free_text=True),
        Kind("postcode", normalise_postcode),
        Kind("date_of_birth", normalise_date_of_birth, needs_today=True),
        Kind("ni_number", normalise_ni_number),
        Kind("sort_code", normalise_sort_code),
        Kind("account_number", normalise_account_number),
        # An IBAN is letters and up to 30 digits: it could look like a card number by chance.
        Kind("iban", normalise_iban),
        # The part before the @ is free text.
        Kind("email", normalise_email, free_text=True, input_type="email"),
        Kind("phone", normalise_phone, input_type="tel"),
    )
}
