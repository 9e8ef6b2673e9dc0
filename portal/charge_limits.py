"""Stripe's limits on a card payment's amount, per currency, as data; and the one check every
way of creating a payment request runs (the agent console, commands, scripts), so an amount
Stripe would refuse is refused when the agent asks for it, in words the agent can read out,
never found out by the customer at the payment page.

From Stripe's "Supported currencies" guide (docs.stripe.com/currencies, "Minimum and maximum
charge amounts"), in minor units:

- a minimum per currency (``STRIPE_MINIMUMS``: GBP 30 = £0.30, USD and EUR 50, JPY 50, ...).
  Stripe also requires the amount to be worth at least that minimum in the account's
  settlement currency, so a payment in another currency close to the line can still be
  refused; the figures here are the ones Stripe publishes for the charge currency;
- currencies Stripe publishes no figure for are held to "at least 0.50 US dollars' worth".
  Postern cannot convert at today's rate, so ``FLOORS`` holds a round figure for each that was
  worth well over that at recent exchange rates: a floor of Postern's own, worded as such in
  the message ("the smallest card payment we can take");
- at most 99,999,999 minor units in any currency (an eight-digit amount);
- three-decimal currencies (BHD, JOD, KWD, OMR, TND): the last digit must be 0, because
  Stripe's card partners take those amounts to the nearest ten;
- ISK is counted in hundredths (see ``portal.money.CURRENCY_EXPONENTS``) but charged in whole
  krónur only: the last two digits must be 00.

Exponents and symbols live in ``portal.money`` (one home for currencies); this module adds
Stripe's rules on top.
"""

from __future__ import annotations

from portal.money import AmountError, AmountProblem, currency_words, exponent, format_amount

#: Stripe's published minimum charge per currency, in minor units.
STRIPE_MINIMUMS: dict[str, int] = {
    "GBP": 30,
    "USD": 50,
    "EUR": 50,
    "AUD": 50,
    "CAD": 50,
    "CHF": 50,
    "NZD": 50,
    "SGD": 50,
    "INR": 50,
    "DKK": 250,
    "NOK": 300,
    "SEK": 300,
    "PLN": 200,
    "RON": 200,
    "CZK": 1500,
    "HUF": 17500,
    "HKD": 400,
    "JPY": 50,
}
#: Postern's own floor where Stripe publishes no minimum (its rule: at least 0.50 USD's
#: worth), in minor units; each is comfortably above that.
FLOORS: dict[str, int] = {
    "ZAR": 1500,  # R15.00
    "KRW": 1000,
    "ISK": 10000,  # 100 ISK, counted in hundredths as Stripe does
    "CLP": 1000,
    "VND": 20000,
    "BHD": 300,  # 0.300 BHD
    "JOD": 500,  # 0.500 JOD
    "KWD": 250,  # 0.250 KWD
    "OMR": 300,  # 0.300 OMR
    "TND": 2500,  # 2.500 TND
}
#: The largest amount Stripe takes in any currency: eight digits of minor units.
STRIPE_MAXIMUM = 99_999_999
#: Currencies whose amounts Stripe takes only in steps of ten minor units (three decimals).
ROUNDED_TO_TEN = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
#: Currencies Stripe counts in hundredths but charges only in whole units (the hundredths 00).
WHOLE_UNITS_ONLY = frozenset({"ISK"})


def minimum(currency: str) -> int:
    """The smallest card payment in ``currency``, in minor units. Raises AmountError for a
    currency Postern knows no limit for."""
    exponent(currency)  # an unknown code is refused in the usual words
    limit = STRIPE_MINIMUMS.get(currency, FLOORS.get(currency))
    if limit is None:
        raise AmountError(
            f"Card payments in {currency} are not set up in Postern.",
            AmountProblem.UNKNOWN_CURRENCY,
        )
    return limit


def check_card_amount(minor: int, currency: str) -> int:
    """``minor`` if Stripe would take a card payment of that amount in ``currency``; else
    AmountError with a sentence naming the limit, e.g. "The smallest card payment Stripe
    accepts in pounds is £0.30." """
    least = minimum(currency)
    words = currency_words(currency)
    if minor < least:
        whose = "Stripe accepts" if currency in STRIPE_MINIMUMS else "we can take"
        raise AmountError(
            f"The smallest card payment {whose} in {words} is {format_amount(least, currency)}.",
            AmountProblem.BELOW_CARD_MINIMUM,
        )
    if minor > STRIPE_MAXIMUM:
        raise AmountError(
            f"The largest card payment Stripe accepts in {words} is "
            f"{format_amount(STRIPE_MAXIMUM, currency)}.",
            AmountProblem.ABOVE_CARD_MAXIMUM,
        )
    if currency in ROUNDED_TO_TEN and minor % 10:
        raise AmountError(
            f"Stripe takes {words} only to two decimal places for cards: the last of the "
            f"three must be 0, like {format_amount(minor - minor % 10, currency)}.",
            AmountProblem.NOT_ROUNDED,
        )
    if currency in WHOLE_UNITS_ONLY and minor % 100:
        raise AmountError(
            f"Stripe takes {words} only in whole units for cards, with no part of a unit, "
            f"like {format_amount(minor - minor % 100, currency)}.",
            AmountProblem.NOT_ROUNDED,
        )
    return minor
