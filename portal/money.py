"""Amounts of money, in one place: reading what people type and writing amounts for pages,
messages, query strings and spreadsheets.

An amount is always a whole number of the currency's minor unit (pence, cents, yen). The number
of decimal places comes from the ISO 4217 exponent of the currency, never from an assumption that
every currency has two. Parsing is strict: what someone types is either a valid amount in that
currency or refused with an ``AmountError`` that says why.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum

from portal.i18n import N_

#: Minor-unit exponents of the currencies an operator may enable, as Stripe's API counts
#: amounts: ISO 4217's, except ISK. ISO gives the Icelandic krona no decimals, but Stripe still
#: takes ISK amounts in hundredths for backwards compatibility, the hundredths always 00
#: (docs.stripe.com/currencies, "Special cases"): 500 ISK is sent as 50000. Postern keeps
#: amounts in the unit it sends, so ISK has 2 here, and ``portal.charge_limits`` refuses an
#: ISK amount that is not whole krónur. Held to the sandbox's table by tests/unit/test_money.py.
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
    "ISK": 2,
    "CLP": 0,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}
SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}
#: How a sentence names each currency's money ("in pounds", "in yen").
CURRENCY_WORDS: dict[str, str] = {
    "GBP": "pounds",
    "EUR": "euros",
    "USD": "US dollars",
    "CAD": "Canadian dollars",
    "AUD": "Australian dollars",
    "NZD": "New Zealand dollars",
    "CHF": "Swiss francs",
    "SEK": "Swedish kronor",
    "NOK": "Norwegian kroner",
    "DKK": "Danish kroner",
    "PLN": "Polish zloty",
    "CZK": "Czech koruna",
    "HUF": "Hungarian forints",
    "RON": "Romanian lei",
    "ZAR": "South African rand",
    "INR": "Indian rupees",
    "HKD": "Hong Kong dollars",
    "SGD": "Singapore dollars",
    "JPY": "yen",
    "KRW": "Korean won",
    "ISK": "Icelandic kronur",
    "CLP": "Chilean pesos",
    "VND": "Vietnamese dong",
    "BHD": "Bahraini dinars",
    "KWD": "Kuwaiti dinars",
    "OMR": "Omani rials",
    "JOD": "Jordanian dinars",
    "TND": "Tunisian dinars",
}
#: ASCII digits only (another script's digits can pass for punctuation: "1٠٠" reads as "1.."
#: yet would be 100), optionally grouped in thousands with commas, optionally a decimal part.
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$", re.ASCII)


class AmountProblem(StrEnum):
    """Which rule an amount broke, for callers that word the refusal their own way."""

    UNKNOWN_CURRENCY = "unknown_currency"
    NOT_A_NUMBER = "not_a_number"
    TOO_MANY_PLACES = "too_many_places"
    NOT_POSITIVE = "not_positive"
    TOO_LARGE = "too_large"
    #: Stripe's card limits (``portal.charge_limits``).
    BELOW_CARD_MINIMUM = "below_card_minimum"
    ABOVE_CARD_MAXIMUM = "above_card_maximum"
    NOT_ROUNDED = "not_rounded"


class AmountError(ValueError):
    """The amount cannot be accepted. The message says why in a plain sentence; ``problem``
    names the rule."""

    def __init__(self, message: str, problem: AmountProblem):
        super().__init__(message)
        self.problem = problem


def exponent(currency: str) -> int:
    """The ISO 4217 exponent of ``currency``. Raises AmountError for an unknown code."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise AmountError(
            f"{currency} is not a currency Postern knows.", AmountProblem.UNKNOWN_CURRENCY
        ) from None


def currency_words(currency: str) -> str:
    """``"GBP"`` -> ``"pounds"``: the currency's money as a sentence names it; its code for
    one without a name here."""
    return CURRENCY_WORDS.get(currency, currency)


def _number_part(text: str | None, currency: str) -> str:
    """``text`` without spaces, the currency's own symbol in front or its code behind."""
    value = (text or "").strip().replace(" ", "")
    symbol = SYMBOLS.get(currency)
    if symbol and value.startswith(symbol):
        value = value[len(symbol) :]
    if value.upper().endswith(currency):
        value = value[: -len(currency)]
    return value


def parse_amount(
    text: str | None, currency: str, *, max_major: int, allow_zero: bool = False
) -> int:
    """Return ``text`` as an amount in minor units of ``currency``.

    Accepts ``1234``, ``1,234.50``, ``£12.5``, ``12.50 GBP``. Refuses anything else, negatives,
    more decimal places than the currency has, amounts above ``max_major`` whole units and zero
    (unless ``allow_zero``: a search's lower bound may be nothing). Raises AmountError.
    """
    places = exponent(currency)
    value = _number_part(text, currency)
    match = _AMOUNT.match(value)
    if not match:
        raise AmountError(
            N_("Enter the amount in numbers only, like 125.50."), AmountProblem.NOT_A_NUMBER
        )
    if len(match.group(1) or "") > places:
        message = (
            f"{currency} amounts have no decimal places."
            if places == 0
            else f"Use at most {places} decimal places for {currency}."
        )
        raise AmountError(message, AmountProblem.TOO_MANY_PLACES)
    minor = int(Decimal(value.replace(",", "")).scaleb(places))
    if minor == 0 and not allow_zero:
        raise AmountError(N_("Enter an amount greater than zero."), AmountProblem.NOT_POSITIVE)
    most = max_major * 10**places
    if minor > most:
        raise AmountError(
            f"The most you can request is {format_amount(most, currency)}.",
            AmountProblem.TOO_LARGE,
        )
    return minor


def format_amount(minor: int, currency: str) -> str:
    """``1250, "GBP"`` -> ``£12.50``; ``1200, "JPY"`` -> ``¥1,200``; ``1500, "KWD"`` ->
    ``1.500 KWD``. Raises AmountError for an unknown currency."""
    places = exponent(currency)
    number = f"{Decimal(minor).scaleb(-places):,.{places}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def format_known_amount(minor: int | None, currency: str | None) -> str | None:
    """``format_amount``, or None when the amount or the currency is missing or the currency
    is not one Postern knows (an old row, an event from elsewhere): never raises."""
    if minor is None or currency not in CURRENCY_EXPONENTS:
        return None
    return format_amount(minor, currency)


def plain_amount(minor: int | None, currency: str | None) -> str | None:
    """``1250, "GBP"`` -> ``"12.50"``; ``1200, "JPY"`` -> ``"1200"``: a number a spreadsheet
    or a query string reads as one (no symbol, no grouping). None when either is missing; an
    unknown currency is taken to have two decimal places. Integer arithmetic: the CSV export
    calls this once per row."""
    if minor is None or not currency:
        return None
    places = CURRENCY_EXPONENTS.get(currency, 2)
    if not places:
        return str(minor)
    whole, part = divmod(abs(minor), 10**places)
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{places}d}"
