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
        "why: there is not enough money available on the card",
        "fields: postcode, surname",
        "resend: no",
    ]


def test_an_unknown_currency_shows_the_raw_amount():
    assert detail_words({"amount_minor": 5, "currency": "XXX"}) == ["amount: 5"]


def test_identity_attempts_say_whether_the_answer_was_right():
    from portal.reporting.timeline_words import action_words as words

    right = words("capture.identity_attempt", "success", {"item": "postcode", "result": "correct"})
    wrong = words("capture.identity_attempt", "failure", {"item": "postcode", "result": "wrong"})
    assert right == "Right answer to the identity question"
    assert wrong == "Wrong answer to the identity question"
    # Rows written before the result was kept: the outcome decides.
    assert words("capture.identity_attempt", "success") == right
    assert "not counted" in words("capture.identity_attempt", "failure", {"result": "unreadable"})
    assert detail_words({"item": "postcode", "result": "correct"}) == ["item: postcode"]


def test_stripe_events_and_statuses_read_as_words():
    from portal.reporting.timeline_words import webhook_event_words

    assert webhook_event_words("charge.dispute.funds_withdrawn") == (
        "Stripe: the disputed amount was taken from our Stripe balance"
    )
    assert webhook_event_words("payment_intent.succeeded") == "Stripe: the payment succeeded"
    assert webhook_event_words("payment_intent.partially_funded") == (
        "Stripe: payment partially funded"
    )
    assert detail_words({"status": "requires_payment_method"}) == [
        "status: waiting for the customer's card"
    ]
    assert detail_words({"failure_code": "card_declined", "decline_code": "fraudulent"}) == [
        "why: the bank did not say why"
    ]
