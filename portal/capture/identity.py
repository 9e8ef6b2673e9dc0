"""The knowledge check: the customer proves who they are before seeing anything of the request.

The agent picks one item from the customer's record (postcode, date of birth or surname) and
types its value; we keep only an HMAC-SHA256 (keyed with ``IDENTITY_PEPPER``) of its
normalised form, so ``SW1A 1AA`` and ``sw1a1aa``, ``31/01/1980`` and ``1980-01-01``...
compare equal, and a database reader learns nothing without the pepper.

Also the read-back code: a short code shown to both sides so they can confirm they are looking
at the same request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import date

from flask import current_app

from portal.i18n import N_, gettext
from portal.models.types import utcnow

POSTCODE, DATE_OF_BIRTH, SURNAME = "postcode", "date_of_birth", "surname"
#: Item type -> what the agent's form calls it (plain ``str``, translated where shown).
ITEMS = {POSTCODE: N_("Postcode"), DATE_OF_BIRTH: N_("Date of birth"), SURNAME: N_("Surname")}
#: Item type -> (question, hint) the customer sees, translated where shown (``gettext``).
QUESTIONS = {
    POSTCODE: (N_("What is the postcode of your address?"), N_("For example, SW1A 1AA.")),
    DATE_OF_BIRTH: (N_("What is your date of birth?"), N_("For example, 31/03/1980.")),
    SURNAME: (N_("What is your surname (family name)?"), N_("As we have it on your account.")),
}

_POSTCODE = re.compile(r"^[A-Z0-9]{2,10}$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
#: Spaces, hyphens and every kind of apostrophe vanish from surnames: O'Brien == OBrien.
_SURNAME_NOISE = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014'\u2019\u2018\u02bc`´]+")

# Read-back code: no letters or digits that are easy to confuse when read aloud or at a glance
# (B/8, G/6, I/1/L, O/0/Q, S/5, Z/2).
READBACK_LETTERS = "ACDEFHJKMNPRTUVWXY"
READBACK_DIGITS = "2345679"


class IdentityFormatError(ValueError):
    """The value is not in a form we can compare; the message says how to write it, in the
    language of the page in flight (the customer's, or English for staff and the API)."""


def normalise_postcode(text: str) -> str:
    value = re.sub(r"\s+", "", text).upper()
    if not _POSTCODE.match(value):
        raise IdentityFormatError(
            gettext("Enter a postcode using letters and numbers, like SW1A 1AA.")
        )
    return value


def normalise_date_of_birth(text: str) -> str:
    """Return the date as YYYY-MM-DD. Accepts DD/MM/YYYY (also with - . or space) and
    YYYY-MM-DD; refuses impossible dates and dates outside 1900..today."""
    value = text.strip()
    if match := _ISO.match(value):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DAY_FIRST.match(value):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise IdentityFormatError(gettext("Enter the date as day/month/year, like 31/03/1980."))
    try:
        parsed = date(year, month, day)
    except ValueError:
        raise IdentityFormatError(
            gettext("That date does not exist. Check the day and month.")
        ) from None
    if not date(1900, 1, 1) <= parsed <= utcnow().date():
        raise IdentityFormatError(gettext("Enter a date of birth between 1900 and today."))
    return parsed.isoformat()


def normalise_surname(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    value = _SURNAME_NOISE.sub("", stripped.casefold())
    if not value or len(value) > 80 or not any(ch.isalpha() for ch in value):
        raise IdentityFormatError(gettext("Enter a surname using letters."))
    return value


_NORMALISERS = {
    POSTCODE: normalise_postcode,
    DATE_OF_BIRTH: normalise_date_of_birth,
    SURNAME: normalise_surname,
}


def normalise(item: str, text: str) -> str:
    """The canonical form of ``text`` for ``item``. Raises IdentityFormatError (a ValueError)
    with a plain message if it cannot be read, KeyError for an unknown item type."""
    return _NORMALISERS[item](text or "")


def answer_hash(item: str, text: str) -> str:
    """HMAC-SHA256 of the normalised answer, keyed with the pepper. Raises IdentityFormatError."""
    message = f"{item}:{normalise(item, text)}".encode()
    pepper = current_app.config["IDENTITY_PEPPER"].encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def answer_matches(item: str, text: str, stored_hash: str) -> bool:
    """Constant-time comparison. Raises IdentityFormatError if ``text`` cannot be read (which
    callers treat as "try again", not as a wrong answer)."""
    return hmac.compare_digest(answer_hash(item, text), stored_hash)


def new_readback_code() -> str:
    """Three letters and two digits, e.g. ``KTW47``; shown as ``KTW 47``."""
    letters = "".join(secrets.choice(READBACK_LETTERS) for _ in range(3))
    digits = "".join(secrets.choice(READBACK_DIGITS) for _ in range(2))
    return letters + digits


def display_readback(code: str) -> str:
    return f"{code[:3]} {code[3:]}"
