"""Stripe's card limits per currency (portal/charge_limits.py): every currency Postern knows has
a minimum, the refusals name the limit in words an agent can read out, and the data agrees with
the Stripe sandbox, which refuses what Stripe refuses."""

from __future__ import annotations

import pytest

from portal.charge_limits import (
    FLOORS,
    ROUNDED_TO_TEN,
    STRIPE_MAXIMUM,
    STRIPE_MINIMUMS,
    check_card_amount,
    minimum,
)
from portal.money import CURRENCY_EXPONENTS, AmountError, AmountProblem


def refusal(minor: int, currency: str) -> AmountError:
    with pytest.raises(AmountError) as refused:
        check_card_amount(minor, currency)
    return refused.value


def test_every_currency_postern_knows_has_exactly_one_minimum():
    assert set(STRIPE_MINIMUMS) | set(FLOORS) == set(CURRENCY_EXPONENTS)
    assert not set(STRIPE_MINIMUMS) & set(FLOORS)
    assert {code for code, places in CURRENCY_EXPONENTS.items() if places == 3} == ROUNDED_TO_TEN
    # A floor must itself be a payable amount (three-decimal ones end in 0).
    for currency in CURRENCY_EXPONENTS:
        assert check_card_amount(minimum(currency), currency) == minimum(currency)


@pytest.mark.parametrize(
    ("minor", "currency", "message"),
    [
        (29, "GBP", "The smallest card payment Stripe accepts in pounds is £0.30."),
        (49, "USD", "The smallest card payment Stripe accepts in US dollars is $0.50."),
        (49, "EUR", "The smallest card payment Stripe accepts in euros is €0.50."),
        (49, "JPY", "The smallest card payment Stripe accepts in yen is ¥50."),
        (299, "SEK", "The smallest card payment Stripe accepts in Swedish kronor is 3.00 SEK."),
        (999, "KRW", "The smallest card payment we can take in Korean won is 1,000 KRW."),
        (240, "KWD", "The smallest card payment we can take in Kuwaiti dinars is 0.250 KWD."),
    ],
)
def test_below_the_minimum_is_refused_naming_the_limit(minor, currency, message):
    problem = refusal(minor, currency)
    assert str(problem) == message
    assert problem.problem == AmountProblem.BELOW_CARD_MINIMUM
    assert check_card_amount(minimum(currency), currency) == minimum(currency)


def test_above_stripes_eight_digits_is_refused():
    assert check_card_amount(STRIPE_MAXIMUM, "GBP") == STRIPE_MAXIMUM
    problem = refusal(STRIPE_MAXIMUM + 1, "GBP")
    assert str(problem) == "The largest card payment Stripe accepts in pounds is £999,999.99."
    assert problem.problem == AmountProblem.ABOVE_CARD_MAXIMUM
    assert "¥99,999,999" in str(refusal(STRIPE_MAXIMUM + 1, "JPY"))


def test_three_decimal_currencies_need_a_last_digit_of_zero():
    assert check_card_amount(2120, "KWD") == 2120
    problem = refusal(2125, "KWD")
    assert problem.problem == AmountProblem.NOT_ROUNDED
    assert str(problem) == (
        "Stripe takes Kuwaiti dinars only to two decimal places for cards: the last of the "
        "three must be 0, like 2.120 KWD."
    )
    # Two-decimal and zero-decimal currencies have no such rule.
    assert check_card_amount(2125, "GBP") == 2125
    assert check_card_amount(2125, "JPY") == 2125


def test_an_unknown_currency_is_refused_in_words():
    assert str(refusal(1000, "XTS")) == "XTS is not a currency Postern knows."


def test_the_limits_agree_with_the_stripe_sandbox():
    """The sandbox refuses amounts as Stripe does (amount_too_small): where both publish a
    minimum, they are the same figure."""
    from stripe_sandbox import money as sandbox_money

    for code, least in STRIPE_MINIMUMS.items():
        assert sandbox_money.MINIMUM_AMOUNTS.get(code.lower()) == least, code
    for code in FLOORS:  # where Stripe publishes none, neither does the sandbox
        assert code.lower() not in sandbox_money.MINIMUM_AMOUNTS, code
    assert sandbox_money.MAXIMUM_AMOUNT == STRIPE_MAXIMUM


def test_isk_is_charged_in_whole_kronur_only():
    """Stripe counts ISK in hundredths but charges whole krónur: the hundredths must be 00."""
    assert check_card_amount(50_000, "ISK") == 50_000
    problem = refusal(50_050, "ISK")
    assert problem.problem == AmountProblem.NOT_ROUNDED
    assert str(problem) == (
        "Stripe takes Icelandic kronur only in whole units for cards, with no part of a unit, "
        "like 500.00 ISK."
    )
    # The floor is 100 krónur, not 1: it is counted in hundredths too.
    assert minimum("ISK") == 10_000
