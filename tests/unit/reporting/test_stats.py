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
