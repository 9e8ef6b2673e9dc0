"""Disputes in words a clerk can read aloud, with the deadline in the contact centre's time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from portal.disputes import wording

LONDON = ZoneInfo("Europe/London")


def test_reasons_and_statuses_in_words():
    assert (
        wording.reason_words("fraudulent") == "The cardholder says they did not make this payment"
    )
    assert wording.reason_words("something_new") == "Something new"
    assert wording.status_words("needs_response") == "Disputed: evidence is needed"
    assert wording.status_words("lost").startswith("Dispute lost")


def test_the_deadline_is_shown_in_uk_time_summer_and_winter():
    winter = datetime(2026, 12, 14, 23, 59, tzinfo=UTC)
    summer = datetime(2026, 7, 14, 23, 59, tzinfo=UTC)
    assert wording.due_words(winter, LONDON) == "14 Dec 2026 23:59 UK time"
    assert wording.due_words(summer, LONDON) == "15 Jul 2026 00:59 UK time"
    assert wording.due_words(None, LONDON) == ""


def test_a_closed_dispute_in_the_timeline():
    what, lines = wording.audit_words(
        "dispute.closed",
        {
            "dispute_reason": "fraudulent",
            "amount_minor": 5000,
            "currency": "GBP",
            "outcome": "lost",
            "stripe_dispute": "dp_1",
        },
        "Dispute closed",
        LONDON,
    )
    assert what == "Dispute closed: lost (the money went back to the cardholder)"
    assert lines == [
        "reason: The cardholder says they did not make this payment",
        "amount: £50.00",
        "Stripe dispute: dp_1",
    ]


def test_an_opened_dispute_in_the_timeline_names_its_deadline():
    _, lines = wording.audit_words(
        "dispute.opened",
        {
            "dispute_reason": "product_not_received",
            "dispute_status": "needs_response",
            "amount_minor": 1250,
            "currency": "GBP",
            "evidence_due_by": "2026-12-14T23:59:59+00:00",
        },
        "Dispute opened by the cardholder's bank",
        LONDON,
    )
    assert "status: Disputed: evidence is needed" in lines
    assert "evidence due: 14 Dec 2026 23:59 UK time" in lines
    assert "amount: £12.50" in lines
