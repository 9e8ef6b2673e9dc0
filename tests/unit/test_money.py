"""Amounts (portal/money.py): minor units from the ISO 4217 exponent, strict parsing, the ways
an amount is written, and round trips through each of them for every currency."""

from __future__ import annotations

import pytest

from portal.money import (
    CURRENCY_EXPONENTS,
    AmountError,
    AmountProblem,
    exponent,
    format_amount,
    format_known_amount,
    parse_amount,
    plain_amount,
)


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("12.50", "GBP", 1250),
        ("12.5", "GBP", 1250),
        ("12", "GBP", 1200),
        ("£1,234.56", "GBP", 123456),
        ("0.01", "EUR", 1),
        ("1200", "JPY", 1200),
        ("1,200", "JPY", 1200),
        ("1.234", "KWD", 1234),
        ("10 GBP", "GBP", 1000),
    ],
)
def test_parse(typed, currency, minor):
    assert parse_amount(typed, currency, max_major=50000) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "message"),
    [
        ("12.345", "GBP", "at most 2 decimal places"),
        ("12.5", "JPY", "no decimal places"),
        ("0", "GBP", "greater than zero"),
        ("0.00", "GBP", "greater than zero"),
        ("-5", "GBP", "numbers only"),
        ("1e3", "GBP", "numbers only"),
        ("12,50", "GBP", "numbers only"),
        ("", "GBP", "numbers only"),
        ("50000.01", "GBP", "The most you can request is £50,000.00"),
    ],
)
def test_parse_refuses(typed, currency, message):
    with pytest.raises(AmountError, match=message):
        parse_amount(typed, currency, max_major=50000)


def test_unknown_currency():
    with pytest.raises(AmountError):
        exponent("XXX")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1250, "GBP", "£12.50"),
        (123456789, "GBP", "£1,234,567.89"),
        (5, "EUR", "€0.05"),
        (1200, "JPY", "¥1,200"),
        (1500, "KWD", "1.500 KWD"),
        (999, "SEK", "9.99 SEK"),
    ],
)
def test_format(minor, currency, text):
    assert format_amount(minor, currency) == text


@pytest.mark.parametrize(
    ("typed", "currency", "problem"),
    [
        ("12.345", "GBP", AmountProblem.TOO_MANY_PLACES),
        ("12.5", "JPY", AmountProblem.TOO_MANY_PLACES),
        ("0", "GBP", AmountProblem.NOT_POSITIVE),
        ("abc", "GBP", AmountProblem.NOT_A_NUMBER),
        ("50000.01", "GBP", AmountProblem.TOO_LARGE),
        ("1", "XXX", AmountProblem.UNKNOWN_CURRENCY),
    ],
)
def test_each_refusal_names_the_rule_it_broke(typed, currency, problem):
    with pytest.raises(AmountError) as refused:
        parse_amount(typed, currency, max_major=50000)
    assert refused.value.problem is problem


@pytest.mark.parametrize("typed", ["\u0663\u0664", "\uff11\uff12", "1\u0660\u0660", "\u0968.50"])
def test_only_ascii_digits_are_an_amount(typed):
    """Another script's digits are refused: "1٠٠" reads as "1.." yet was taken as 100."""
    with pytest.raises(AmountError, match="numbers only"):
        parse_amount(typed, "GBP", max_major=50000)


@pytest.mark.parametrize("typed", ["€5", "$5", "¥5", "££5", "5 EUR"])
def test_only_the_currencys_own_symbol_or_code_is_accepted(typed):
    with pytest.raises(AmountError, match="numbers only"):
        parse_amount(typed, "GBP", max_major=50000)


def test_zero_only_where_the_caller_allows_it():
    assert parse_amount("0", "GBP", max_major=1, allow_zero=True) == 0
    assert parse_amount("0.000", "KWD", max_major=1, allow_zero=True) == 0
    with pytest.raises(AmountError, match="greater than zero"):
        parse_amount("0", "JPY", max_major=1)


def test_the_limit_is_in_whole_units_of_the_currency():
    assert parse_amount("1,000", "JPY", max_major=1000) == 1000
    assert parse_amount("1.000", "KWD", max_major=1) == 1000
    with pytest.raises(AmountError, match="The most you can request is 1.000 KWD."):
        parse_amount("1.001", "KWD", max_major=1)


@pytest.mark.parametrize("currency", sorted(CURRENCY_EXPONENTS))
@pytest.mark.parametrize("minor", [1, 7, 1250, 100_000, 123_456_789])
def test_every_currency_reads_back_what_it_writes(currency, minor):
    """Round trips for every currency (exponents 0, 2 and 3): the page's way of writing an
    amount and the plain way (query strings, spreadsheets) both parse back to the same
    minor units."""
    places = CURRENCY_EXPONENTS[currency]
    plain = plain_amount(minor, currency)
    assert plain.count(".") == (1 if places else 0)
    assert len(plain.partition(".")[2]) == places
    assert parse_amount(format_amount(minor, currency), currency, max_major=10**9) == minor
    assert parse_amount(plain, currency, max_major=10**9) == minor


def test_the_exponents_in_use():
    assert {exponent(code) for code in CURRENCY_EXPONENTS} == {0, 2, 3}
    assert (exponent("GBP"), exponent("JPY"), exponent("KWD")) == (2, 0, 3)


def test_plain_amounts_as_a_spreadsheet_reads_them():
    assert plain_amount(1250, "GBP") == "12.50"
    assert plain_amount(5, "GBP") == "0.05"
    assert plain_amount(1200, "JPY") == "1200"
    assert plain_amount(1500, "KWD") == "1.500"
    assert plain_amount(None, "GBP") is None
    assert plain_amount(1250, None) is None
    assert plain_amount(1250, "XXX") == "12.50"  # an unknown code: two places, never an error


def test_a_known_amount_or_nothing():
    assert format_known_amount(1250, "GBP") == "£12.50"
    assert format_known_amount(None, "GBP") is None
    assert format_known_amount(1250, None) is None
    assert format_known_amount(1250, "") is None
    assert format_known_amount(1250, "XXX") is None


def test_every_currency_has_words_for_sentences():
    from portal.money import CURRENCY_WORDS, currency_words

    assert set(CURRENCY_WORDS) == set(CURRENCY_EXPONENTS)
    assert (currency_words("GBP"), currency_words("JPY")) == ("pounds", "yen")
    assert currency_words("XTS") == "XTS"  # no name: its code, never an error


def _sandbox_exponent(code: str) -> int:
    from stripe_sandbox import money as sandbox_money

    lower = code.lower()
    if lower in sandbox_money.ZERO_DECIMAL:
        return 0
    return 3 if lower in sandbox_money.THREE_DECIMAL else 2


def test_every_exponent_agrees_with_the_stripe_sandbox():
    """Postern sends amounts in the unit Stripe's API counts in; the sandbox counts as Stripe
    does. Each currency both know must have the same exponent in both, or an amount would be
    charged a hundred times too much or too little."""
    from stripe_sandbox import money as sandbox_money

    known = [
        code for code in CURRENCY_EXPONENTS if code.lower() in sandbox_money.SUPPORTED_CURRENCIES
    ]
    assert sorted(known) == sorted(CURRENCY_EXPONENTS)  # the sandbox knows every one of ours
    differing = {
        code: (CURRENCY_EXPONENTS[code], _sandbox_exponent(code))
        for code in known
        if CURRENCY_EXPONENTS[code] != _sandbox_exponent(code)
    }
    assert differing == {}


def test_isk_is_counted_in_hundredths_as_stripe_takes_it():
    """ISO 4217 gives ISK no decimals, but Stripe's API takes ISK in hundredths (always 00):
    500 ISK is sent as 50000."""
    assert exponent("ISK") == 2
    assert parse_amount("500", "ISK", max_major=1000) == 50_000
    assert format_amount(50_000, "ISK") == "500.00 ISK"
