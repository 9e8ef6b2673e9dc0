"""Stripe-shaped dispute objects for the dispute unit tests (the fields of Stripe's fixture)."""

from __future__ import annotations

from portal.payments.facts import DisputeFacts, dispute_facts

#: 14 Dec 2026 23:59:59 UTC (Stripe gives ``evidence_details.due_by`` in Unix seconds).
DUE_BY = 1797292799


def stripe_dispute(
    intent: str | None,
    *,
    dispute_id: str = "dp_1",
    status: str = "needs_response",
    reason: str = "fraudulent",
    amount: int = 5000,
    charge: str = "ch_1",
    due_by: int | None = DUE_BY,
    withdrawn: int = 0,
    reinstated: int = 0,
) -> dict:
    """A dispute as ``GET /v1/disputes/<id>`` returns it."""
    balance = []
    if withdrawn:
        balance.append({"object": "balance_transaction", "amount": -withdrawn, "fee": 1500})
    if reinstated:
        balance.append({"object": "balance_transaction", "amount": reinstated, "fee": 0})
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": balance,
        "charge": charge,
        "created": 1796688000,
        "currency": "gbp",
        "evidence": {"customer_name": None, "uncategorized_text": None},
        "evidence_details": {
            "due_by": due_by,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": intent,
        "reason": reason,
        "status": status,
    }


def facts(intent: str | None, **kwargs) -> DisputeFacts:
    return dispute_facts(stripe_dispute(intent, **kwargs))
