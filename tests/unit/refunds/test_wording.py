"""Refund reasons and Stripe's refusals in plain words."""

from __future__ import annotations

from portal.refunds import wording

STRIPE_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


def test_every_reason_has_words_and_a_reason_stripe_accepts():
    for code, (words, stripe_reason) in wording.REASONS.items():
        assert words and words[0].isupper(), code
        assert stripe_reason in STRIPE_REASONS, code
    assert wording.stripe_reason("wrong_amount") == "requested_by_customer"
    assert wording.reason_words("duplicate") == "The customer paid twice"


def test_refusals_are_plain_and_never_quote_stripe():
    raw = "Refund amount (£6.00) is greater than unrefunded amount on charge (£5.00)"
    assert wording.refusal_message(None, raw) == wording.MORE_THAN_LEFT
    assert wording.refusal_message("charge_already_refunded") == wording.ALREADY_REFUNDED
    other = wording.refusal_message("resource_missing", "No such payment_intent: 'pi_x'")
    assert "resource_missing" in other and "pi_x" not in other


def test_every_status_has_words():
    for status in (
        "pending_approval",
        "requested",
        "pending",
        "requires_action",
        "succeeded",
        "failed",
        "canceled",
        "rejected",
    ):
        assert wording.status_words(status) != status


def test_why_a_refund_failed_in_plain_words():
    assert wording.failure_words("expired_or_canceled_card").startswith(
        "The customer's card has expired or been cancelled"
    )
    assert wording.failure_words(None) == "Stripe did not say why the refund failed."
    assert "new reason" in wording.failure_words("new_reason")


def test_stripe_refusing_a_refund_of_a_disputed_payment_is_said_clearly():
    message = wording.refusal_message("charge_disputed", "Charge ch_1 has been charged back.")
    assert message.startswith(
        "This payment is disputed by the cardholder's bank, so it cannot be refunded here."
    )
    assert "ch_1" not in message
