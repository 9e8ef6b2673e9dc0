"""What Stripe says about a refund is applied idempotently and never moves it backwards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit import NO_ORIGIN, Actor
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.types import utcnow
from portal.payments.facts import RefundFacts
from portal.refunds import service, sync
from tests.unit.refunds.support import paid_payment, user

ACTOR = Actor("test")


def facts(status, refund_id=None, failure=None, stripe_id="re_1", intent="pi_x"):
    return RefundFacts(
        id=stripe_id,
        status=status,
        amount=1000,
        currency="GBP",
        payment_intent_id=intent,
        failure_reason=failure,
        metadata={"postern_refund": str(refund_id)} if refund_id else {},
    )


@pytest.fixture
def refund(app, make_staff):
    agent, officer = make_staff("agent"), make_staff("backoffice", mfa=True)
    with app.app_context():
        payment = paid_payment(agent.id)
        row = service.request_refund(
            payment.id,
            amount_minor=1000,
            reason_code="goodwill",
            note="Sorry for the trouble",
            requester=user(officer),
            reauthenticated_at=utcnow(),
            origin=NO_ORIGIN,
        )
        return row.id


def actions():
    return list(
        db.session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.action.startswith("refund."))
            .order_by(AuditEvent.seq)
        ).scalars()
    )


def test_status_moves_forward_only_and_audits_once(app, refund):
    from portal.models.refund import Refund

    with app.app_context():
        row = db.session.get(Refund, refund)
        assert sync.apply_facts(row, facts("pending"), actor=ACTOR)
        assert sync.apply_facts(row, facts("succeeded"), actor=ACTOR)
        assert not sync.apply_facts(row, facts("succeeded"), actor=ACTOR)  # a repeat
        assert not sync.apply_facts(row, facts("pending"), actor=ACTOR)  # stale, late
        db.session.commit()
        assert (row.status, row.stripe_refund_id) == ("succeeded", "re_1")
        assert actions() == [
            "refund.requested",
            "refund.submitted",
            "refund.pending",
            "refund.succeeded",
        ]
        # Stripe allows a succeeded refund to fail later (the card was closed); then it is final.
        assert sync.apply_facts(
            row, facts("failed", failure="expired_or_canceled_card"), actor=ACTOR
        )
        assert not sync.apply_facts(row, facts("succeeded"), actor=ACTOR)
        db.session.commit()
        assert (row.status, row.failure_code) == ("failed", "expired_or_canceled_card")
        assert actions()[-1] == "refund.failed"
        failed = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "refund.failed")
        ).scalar_one()
        assert failed.outcome == "failure"
        assert failed.details["after_success"] is True
        assert failed.details["failure_reason"] == "expired_or_canceled_card"


def test_a_refund_is_matched_by_its_metadata_only_on_the_right_payment(app, refund):
    from portal.models.refund import Refund

    with app.app_context():
        row = db.session.get(Refund, refund)
        intent = row.payment.stripe_payment_intent_id
        assert sync._ours(facts("succeeded", refund_id=refund, intent="pi_other")) is None
        assert sync._ours(facts("succeeded", refund_id=refund, intent=intent)).id == refund
        assert sync._ours(facts("succeeded", refund_id=None, intent=intent)) is None


def test_a_refund_that_fails_after_succeeding_no_longer_counts_as_refunded(app, refund):
    """Stripe's truth wins: the succeeded -> failed refund leaves the refunded total, and the
    amount is free to refund again."""
    from portal.models.refund import Refund
    from portal.refunds.queries import refund_totals

    with app.app_context():
        row = db.session.get(Refund, refund)
        payment_id = row.payment_id
        sync.apply_facts(row, facts("succeeded"), actor=ACTOR)
        db.session.commit()
        assert refund_totals([payment_id]) == {payment_id: (1000, 0)}
        assert service.position(row.payment).remaining == 4000
        sync.apply_facts(row, facts("failed", failure="expired_or_canceled_card"), actor=ACTOR)
        db.session.commit()
        assert refund_totals([payment_id]) == {payment_id: (0, 0)}
        assert service.position(row.payment).remaining == 5000


def test_requires_action_and_canceled_are_mirrored_and_a_canceled_refund_is_final(app, refund):
    from portal.models.refund import Refund

    with app.app_context():
        row = db.session.get(Refund, refund)
        assert sync.apply_facts(row, facts("requires_action"), actor=ACTOR)
        assert row.status == "requires_action"
        assert sync.apply_facts(row, facts("canceled"), actor=ACTOR)
        assert not sync.apply_facts(row, facts("succeeded"), actor=ACTOR)
        db.session.commit()
        assert (row.status, row.failure_code) == ("canceled", "canceled")
        assert actions()[-2:] == ["refund.requires_action", "refund.failed"]


def test_every_refund_event_stripe_sends_is_handled():
    """``refund.*`` reaches only endpoints on API version 2024-10-28 or later;
    ``charge.refund.updated`` reaches every endpoint: both are handled."""
    assert {
        "refund.created",
        "refund.updated",
        "refund.failed",
        "charge.refund.updated",
        "charge.refunded",
    } <= sync.REFUND_EVENT_TYPES
