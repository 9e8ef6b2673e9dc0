"""Stripe refunds reduced to the facts Postern keeps."""

from __future__ import annotations

from portal.payments.facts import refund_facts


def test_refund_facts_from_stripe_json():
    facts = refund_facts(
        {
            "id": "re_1",
            "object": "refund",
            "status": "succeeded",
            "amount": 500,
            "currency": "gbp",
            "payment_intent": {"id": "pi_1", "object": "payment_intent"},
            "metadata": {"postern_refund": "42", "postern_request": "ABC"},
            "destination_details": {"card": {"reference": "123"}},
        }
    )
    assert (facts.id, facts.status, facts.amount, facts.currency) == (
        "re_1",
        "succeeded",
        500,
        "GBP",
    )
    assert facts.payment_intent_id == "pi_1" and facts.our_refund_id == 42


def test_a_refund_without_our_metadata_is_not_ours():
    facts = refund_facts(
        {"id": "re_2", "amount": 1, "currency": "usd", "payment_intent": "pi_2", "status": None}
    )
    assert facts.our_refund_id is None and facts.status == "pending"
    assert (
        refund_facts({**facts.__dict__, "metadata": {"postern_refund": "x1"}}).our_refund_id is None
    )
