"""How audit rows read on the timeline."""

from __future__ import annotations

from portal.reporting.timeline import action_words, detail_words


def test_known_actions_in_plain_words_and_unknown_ones_still_readable():
    assert action_words("payment.failed") == "Card payment attempt failed"
    assert action_words("widget.polished_up") == "Widget: polished up"


def test_details_show_amounts_in_their_currency_and_skip_empty_values():
    lines = detail_words(
        {
            "amount_minor": 1250,
            "currency": "GBP",
            "decline_code": "insufficient_funds",
            "charge": None,
            "fields": ["postcode", "surname"],
            "resend": False,
        }
    )
    assert lines == [
        "amount: £12.50",
        "decline code: insufficient_funds",
        "fields: postcode, surname",
        "resend: no",
    ]


def test_an_unknown_currency_shows_the_raw_amount():
    assert detail_words({"amount_minor": 5, "currency": "XXX"}) == ["amount: 5"]
