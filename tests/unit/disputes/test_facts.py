"""A Stripe dispute reduced to what Postern keeps: ids, status, reason, amount, the evidence
deadline and the money moved; never the evidence or the card."""

from __future__ import annotations

import json
from pathlib import Path

from portal.payments.facts import dispute_facts, webhook_event
from tests.unit.disputes.support import DUE_BY, stripe_dispute

#: Stripe's official fixtures, as the sandbox keeps them.
FIXTURES = (
    Path(__file__).resolve().parents[3] / "stripe_sandbox" / "fixtures" / "stripe_fixtures.json"
)


def test_the_facts_of_a_dispute():
    facts = dispute_facts(stripe_dispute("pi_1", withdrawn=5000))
    assert (facts.id, facts.status, facts.reason) == ("dp_1", "needs_response", "fraudulent")
    assert (facts.amount, facts.currency) == (5000, "GBP")
    assert (facts.payment_intent_id, facts.charge_id) == ("pi_1", "ch_1")
    assert facts.evidence_due_by == DUE_BY
    assert (facts.funds_withdrawn, facts.funds_reinstated) == (5000, 0)


def test_money_withdrawn_and_reinstated_are_summed_from_the_balance_transactions():
    facts = dispute_facts(stripe_dispute("pi_1", status="won", withdrawn=5000, reinstated=5000))
    assert (facts.funds_withdrawn, facts.funds_reinstated) == (5000, 5000)


def test_money_moved_in_the_settlement_currency_counts_as_the_disputes_own_amount():
    """A euro payment on a sterling account: Stripe's balance transactions are in pounds, but
    what Postern keeps for the dispute is in the dispute's currency, so the euro amount."""
    dispute = stripe_dispute("pi_1", status="won")
    dispute.update(currency="eur", amount=5000)
    dispute["balance_transactions"] = [
        {"amount": -4312, "currency": "gbp"},
        {"amount": 4312, "currency": "gbp"},
    ]
    facts = dispute_facts(dispute)
    assert (facts.currency, facts.funds_withdrawn, facts.funds_reinstated) == ("EUR", 5000, 5000)


def test_no_deadline_when_stripe_gives_none():
    assert dispute_facts(stripe_dispute("pi_1", due_by=None)).evidence_due_by is None


def test_stripes_own_fixture_is_read():
    """The official fixture: a legacy dispute naming only its charge (no PaymentIntent)."""
    fixture = json.loads(FIXTURES.read_text())["resources"]["dispute"]
    facts = dispute_facts(fixture)
    assert facts.payment_intent_id is None and facts.charge_id == fixture["charge"]
    assert facts.status == "warning_needs_response" and facts.currency == "USD"


def test_a_dispute_event_names_its_payment_intent():
    event = webhook_event(
        {
            "id": "evt_1",
            "type": "charge.dispute.created",
            "data": {"object": stripe_dispute("pi_1")},
        }
    )
    assert (event.object_type, event.object_id, event.payment_intent_id) == (
        "dispute",
        "dp_1",
        "pi_1",
    )
