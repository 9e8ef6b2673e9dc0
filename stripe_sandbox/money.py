"""Amounts as Stripe's messages write them (``$10.00``, ``£0.30``), and Stripe's amount limits."""

from __future__ import annotations

import re

from . import errors

SYMBOLS = {"usd": "$", "gbp": "£", "eur": "€", "cad": "$", "aud": "$", "nzd": "$", "jpy": "¥"}
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
#: Stripe's minimum charge amounts (smallest unit) for the currencies a UK/EU/US portal uses.
MINIMUM_AMOUNTS = {
    "usd": 50,
    "gbp": 30,
    "eur": 50,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "chf": 50,
    "sek": 300,
    "nok": 300,
    "dkk": 250,
    "jpy": 50,
}
MAXIMUM_AMOUNT = 99_999_999


def format_amount(amount: int, currency: str) -> str:
    """``1050, "gbp"`` -> ``£10.50``; currencies without a symbol get their code appended."""
    major = f"{amount:,}" if currency in ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{major}" if symbol else f"{major} {currency}"


def check_currency(value: str | None) -> str:
    if value is None:
        raise errors.parameter_missing("currency")
    currency = value.lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise errors.parameter_invalid(
            "currency", f"Invalid currency: {value}.", code="parameter_invalid_string"
        )
    return currency


def check_charge_amount(amount: int, currency: str) -> None:
    """Stripe refuses charges below the currency's minimum or above its maximum."""
    minimum = MINIMUM_AMOUNTS.get(currency, 1)
    if amount < minimum:
        raise errors.invalid_request(
            f"Amount must be at least {format_amount(minimum, currency)} {currency}",
            param="amount",
            code="amount_too_small",
            saved=False,
        )
    if amount > MAXIMUM_AMOUNT:
        raise errors.invalid_request(
            f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
            param="amount",
            code="amount_too_large",
            saved=False,
        )
