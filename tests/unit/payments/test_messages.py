"""portal.payments.messages: what a customer reads when a card attempt fails."""

from __future__ import annotations

import pytest

from portal.payments.messages import (
    AUTHENTICATION_FAILED,
    DECLINE_MESSAGES,
    GENERIC_DECLINE,
    decline_message,
)


@pytest.mark.parametrize(
    ("failure_code", "decline_code", "expected"),
    [
        ("card_declined", "generic_decline", "Your bank declined this payment"),
        ("card_declined", "insufficient_funds", "not enough money"),
        ("expired_card", None, "This card has expired"),
        ("incorrect_cvc", None, "The security code is not right"),
        ("processing_error", None, "Something went wrong while your card was being checked"),
        ("payment_intent_authentication_failure", None, "security check was not completed"),
        ("card_declined", "card_velocity_exceeded", "reached a limit"),
    ],
)
def test_each_code_has_plain_words(failure_code, decline_code, expected):
    assert expected in decline_message(failure_code, decline_code)


@pytest.mark.parametrize("hint_of_fraud", ["lost_card", "stolen_card", "pickup_card", "fraudulent"])
def test_declines_that_hint_at_fraud_say_nothing_more(hint_of_fraud):
    assert decline_message("card_declined", hint_of_fraud) == GENERIC_DECLINE


def test_anything_unknown_gets_the_generic_message():
    assert decline_message("brand_new_code", "also_new") == GENERIC_DECLINE
    assert decline_message(None, None) == GENERIC_DECLINE


def test_every_message_reassures_or_guides():
    for code, text in DECLINE_MESSAGES.items():
        assert text.endswith("."), code
        assert "Please" in text, code
    assert "No money has been taken" in AUTHENTICATION_FAILED


def test_an_amount_stripe_refuses_is_not_solved_by_a_new_link():
    """A new link for the same amount fails the same way: the words must say the amount has to
    change, not promise that a new link will do."""
    from portal.payments.messages import AMOUNT_NOT_ACCEPTED

    assert "send a new one" not in AMOUNT_NOT_ACCEPTED
    assert "the amount itself has to change" in AMOUNT_NOT_ACCEPTED
    assert "no money has been taken" in AMOUNT_NOT_ACCEPTED
