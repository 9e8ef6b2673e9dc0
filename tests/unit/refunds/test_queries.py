"""How much went back, for many payments at once: refunded, and on its way."""

from __future__ import annotations

import pytest

from portal.audit import NO_ORIGIN, Actor
from portal.disputes import sync as dispute_sync
from portal.extensions import db
from portal.models.types import utcnow
from portal.payments.facts import RefundFacts
from portal.refunds import queries, service, sync
from tests.unit.disputes.support import facts as dispute
from tests.unit.refunds.support import paid_payment, user


def ask(payment, requester, amount):
    return service.request_refund(
        payment.id,
        amount_minor=amount,
        reason_code="goodwill",
        note="Sorry",
        requester=requester,
        reauthenticated_at=utcnow(),
        origin=NO_ORIGIN,
    )


def stripe_says(refund, status):
    facts = RefundFacts(
        id=f"re_{refund.id}",
        status=status,
        amount=refund.amount_minor,
        currency="GBP",
        payment_intent_id=refund.payment.stripe_payment_intent_id,
    )
    sync.apply_facts(refund, facts, actor=Actor("test"))
    db.session.commit()


def test_refund_totals(app, make_staff):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 1000
    agent, officer = make_staff("agent"), make_staff("backoffice", mfa=True)
    with app.app_context():
        first, second, untouched = (paid_payment(agent.id) for _ in range(3))
        requester = user(officer)
        stripe_says(ask(first, requester, 700), "succeeded")
        stripe_says(ask(first, requester, 300), "pending")
        stripe_says(ask(first, requester, 200), "failed")
        ask(first, requester, 1500)  # waits for approval: not on its way yet
        ask(second, requester, 400)  # approved (below the limit), Stripe not asked yet
        totals = queries.refund_totals([first.id, second.id, untouched.id, first.id])
        assert totals == {first.id: (700, 300), second.id: (0, 400), untouched.id: (0, 0)}
        assert queries.refund_totals([]) == {}

        standing = queries.refund_standing(first)
        assert (standing.paid, standing.refunded, standing.remaining) == (5000, 700, 2500)
        # The refund waiting for approval may yet be rejected: never money on its way, though
        # what is left to refund holds it back.
        assert (standing.on_the_way, standing.awaiting_approval) == (300, 1500)
        assert [refund.amount_minor for refund in standing.failed] == [200]
        assert standing.refundable


def test_a_decided_chargeback_is_not_refundable_won_or_lost(app, make_staff):
    """Stripe refuses a refund of a charged-back payment even once the dispute is decided
    (``is_charge_refundable`` is false for every chargeback), so Postern offers none. What a
    lost dispute took back still counts as gone from what could be refunded."""
    agent, officer = make_staff("agent"), make_staff("backoffice", mfa=True)
    with app.app_context():
        lost, won = paid_payment(agent.id), paid_payment(agent.id)
        for payment, ending, dispute_id in ((lost, "lost", "dp_lost"), (won, "won", "dp_won")):
            intent = payment.stripe_payment_intent_id
            dispute_sync.apply_dispute(
                dispute(intent, dispute_id=dispute_id, amount=3000, status=ending),
                actor=Actor("test"),
            )
        db.session.commit()

        assert service.position(lost).remaining == 2000
        assert service.position(won).remaining == 5000
        for payment in (lost, won):
            refund_standing = queries.refund_standing(payment)
            assert not refund_standing.refundable
            assert refund_standing.open_dispute is None  # decided, but still blocking:
            assert refund_standing.blocking_dispute is not None  # the page says why
            with pytest.raises(service.Disputed, match="cannot be refunded here"):
                ask(payment, user(officer), 1000)
