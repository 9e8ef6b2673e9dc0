"""The dashboard's tallies: conversion counts payment requests that were sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.reporting.stats import Tally

SENT = datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_conversion_and_median_count_sent_payment_requests_only():
    tally = Tally()
    tally.add("payment", SENT, SENT + timedelta(minutes=2))
    tally.add("both", SENT, SENT + timedelta(minutes=6))
    tally.add("payment", SENT, None)
    tally.add("payment", None, None)  # never sent: not in the conversion
    tally.add("data", SENT, None)  # no payment asked for
    assert (tally.created, tally.payment_sent, tally.paid) == (5, 3, 2)
    assert tally.conversion == 2 / 3
    assert tally.median_seconds == 240


def test_an_empty_tally_has_no_rates():
    tally = Tally()
    assert tally.conversion is None and tally.median_seconds is None


def test_a_clock_skew_never_gives_a_negative_duration():
    tally = Tally()
    tally.add("payment", SENT, SENT - timedelta(seconds=3))
    assert tally.durations == [0.0]


def test_a_payment_refunded_in_full_is_not_paid_and_the_net_is_kept_per_currency():
    from portal.payments.standing import PaymentState as P
    from portal.reporting.stats import Outcome

    tally = Tally()
    paid_at = SENT + timedelta(minutes=1)
    tally.add("payment", SENT, paid_at, Outcome(P.PAID, 1250, "GBP"))
    tally.add("payment", SENT, paid_at, Outcome(P.PARTIALLY_REFUNDED, 1000, "GBP"))
    tally.add("payment", SENT, paid_at, Outcome(P.REFUNDED, 0, "GBP"))
    tally.add("payment", SENT, paid_at, Outcome(P.DISPUTED, 0, "EUR"))
    tally.add("payment", SENT, paid_at, Outcome(P.DISPUTE_WON, 500, "EUR"))
    assert (tally.payment_sent, tally.paid, tally.refunded, tally.disputed) == (5, 3, 1, 2)
    assert tally.net == {"GBP": 2250, "EUR": 500}
    assert tally.conversion == 3 / 5 and len(tally.durations) == 3
