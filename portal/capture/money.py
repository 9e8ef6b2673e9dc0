"""Amounts of money: always whole numbers of the currency's minor unit (pence, cents, yen).

The number of decimal places comes from the ISO 4217 exponent of the currency, never from an
assumption that every currency has two. Parsing is strict: what an agent types is either a
valid amount in that currency or refused with a message saying why.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

#: ISO 4217 minor-unit exponents of the currencies an operator may enable.
CURRENCY_EXPONENTS: dict[str, int] = {
    "GBP": 2,
    "EUR": 2,
    "USD": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "ZAR": 2,
    "INR": 2,
    "HKD": 2,
    "SGD": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}
SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}
#: Digits, optionally grouped in thousands with commas, optionally a decimal part.
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")


class AmountError(ValueError):
    """The amount cannot be accepted; the message says why, in plain words."""


def exponent(currency: str) -> int:
    """The ISO 4217 exponent of ``currency``. Raises AmountError for an unknown code."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise AmountError(f"{currency} is not a currency Postern knows.") from None


def parse_amount(text: str, currency: str, *, max_major: int) -> int:
    """Return ``text`` as an amount in minor units of ``currency``.

    Accepts ``1234``, ``1,234.50``, ``£12.5``; refuses negatives, zero, more decimal places
    than the currency has, and amounts above ``max_major`` whole units. Raises AmountError.
    """
    places = exponent(currency)
    value = (text or "").strip().replace(" ", "")
    symbol = SYMBOLS.get(currency)
    if symbol and value.startswith(symbol):
        value = value[len(symbol) :]
    if value.upper().endswith(currency):
        value = value[: -len(currency)]
    match = _AMOUNT.match(value)
    if not match:
        raise AmountError("Enter the amount in numbers only, like 125.50.")
    decimals = match.group(1) or ""
    if len(decimals) > places:
        if places == 0:
            raise AmountError(f"{currency} amounts have no decimal places.")
        raise AmountError(f"Use at most {places} decimal places for {currency}.")
    try:
        amount = Decimal(value.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
        raise AmountError("Enter the amount in numbers only, like 125.50.") from None
    minor = int(amount.scaleb(places))
    if minor <= 0:
        raise AmountError("Enter an amount greater than zero.")
    if minor > max_major * 10**places:
        raise AmountError(
            f"The most you can request is {format_amount(max_major * 10**places, currency)}."
        )
    return minor


def format_amount(minor: int, currency: str) -> str:
    """``1250, "GBP"`` -> ``£12.50``; ``1200, "JPY"`` -> ``¥1,200``; ``1500, "KWD"`` ->
    ``1.500 KWD``."""
    places = exponent(currency)
    major = Decimal(minor).scaleb(-places)
    number = f"{major:,.{places}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"
