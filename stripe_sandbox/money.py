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
#: Currencies whose smallest unit is a thousandth; Stripe wants their amounts in tens.
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
# fmt: off
#: The currencies Stripe accepts for card payments (docs.stripe.com/currencies).
SUPPORTED_CURRENCIES = (
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd",
    "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad",
    "cdf", "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp",
    "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl",
    "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf",
    "krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd",
    "mmk", "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok",
    "npr", "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd",
    "rub", "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl",
    "thb", "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs", "vnd",
    "vuv", "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
)
# fmt: on
#: Stripe's minimum charge amounts in the smallest unit, for the currencies its table lists
#: (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts); others need at least 1.
MINIMUM_AMOUNTS = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}
MAXIMUM_AMOUNT = 99_999_999


def format_amount(amount: int, currency: str) -> str:
    """``1050, "gbp"`` -> ``£10.50``; currencies without a symbol get their code appended."""
    if currency in ZERO_DECIMAL:
        major = f"{amount:,}"
    elif currency in THREE_DECIMAL:
        major = f"{amount / 1000:,.3f}"
    else:
        major = f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{major}" if symbol else f"{major} {currency}"


def check_currency(value: str | None) -> str:
    if value is None:
        raise errors.parameter_missing("currency")
    currency = value.lower()
    if not re.fullmatch(r"[a-z]{3}", currency) or currency not in SUPPORTED_CURRENCIES:
        raise errors.invalid_request(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            f"{', '.join(SUPPORTED_CURRENCIES)}",
            param="currency",
            saved=False,
        )
    return currency


def check_charge_amount(amount: int, currency: str) -> None:
    """Stripe refuses charges below the currency's minimum or above its maximum, and
    three-decimal amounts that do not end in 0 (card networks settle those in hundredths)."""
    minimum = MINIMUM_AMOUNTS.get(currency, 1)
    if amount < minimum:
        raise errors.invalid_request(
            f"Amount must be at least {format_amount(minimum, currency)} {currency}",
            param="amount",
            code="amount_too_small",
            saved=False,
        )
    if currency in THREE_DECIMAL and amount % 10:
        raise errors.invalid_request(
            f"Invalid amount for {currency}: the last digit must be 0 for this currency.",
            param="amount",
            code="invalid_amount",
            saved=False,
        )
    if amount > MAXIMUM_AMOUNT:
        raise errors.invalid_request(
            f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
            param="amount",
            code="amount_too_large",
            saved=False,
        )
