"""Amounts: minor units from the ISO 4217 exponent, strict parsing, formatting."""

from __future__ import annotations

import pytest

from portal.capture.money import AmountError, exponent, format_amount, parse_amount


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
