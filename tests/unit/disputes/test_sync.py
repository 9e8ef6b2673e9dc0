"""What Stripe says about a dispute is applied idempotently and never moves it backwards:
opened once, updated, money withdrawn and reinstated, closed as won or lost and never reopened;
every change audited once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit import Actor
from portal.disputes import queries, sync
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.dispute import Dispute
from tests.unit.disputes.support import facts
from tests.unit.refunds.support import paid_payment

ACTOR = Actor("test")


@pytest.fixture
def payment(app, make_staff):
    agent = make_staff("agent")
    with app.app_context():
        row = paid_payment(agent.id)
        row.latest_charge_id = "ch_1"
        db.session.commit()
        return row.id, row.stripe_payment_intent_id


def dispute_actions() -> list[str]:
    return list(
        db.session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.action.startswith("dispute."))
            .order_by(AuditEvent.seq)
        ).scalars()
    )


def the_dispute() -> Dispute:
    return db.session.execute(select(Dispute)).scalar_one()


def test_opened_then_funds_withdrawn_then_won(app, payment):
    payment_id, intent = payment
    with app.app_context():
        assert sync.apply_dispute(facts(intent), actor=ACTOR)
        db.session.commit()
        row = the_dispute()
        assert (row.payment_id, row.status, row.reason, row.amount_minor) == (
            payment_id,
            "needs_response",
            "fraudulent",
            5000,
        )
        assert row.evidence_due_by.isoformat() == "2026-12-14T23:59:59+00:00"
        assert queries.open_dispute_for(payment_id).id == row.id

        assert sync.apply_dispute(facts(intent, withdrawn=5000), actor=ACTOR)
        assert sync.apply_dispute(facts(intent, status="under_review", withdrawn=5000), actor=ACTOR)
        assert sync.apply_dispute(
            facts(intent, status="won", withdrawn=5000, reinstated=5000), actor=ACTOR
        )
        db.session.commit()
        db.session.expire_all()
        row = the_dispute()
        assert (row.status, row.funds_withdrawn_minor, row.funds_reinstated_minor) == (
            "won",
            5000,
            5000,
        )
        assert row.closed_at is not None
        assert queries.open_dispute_for(payment_id) is None
        assert dispute_actions() == [
            "dispute.opened",
            "dispute.funds_withdrawn",
            "dispute.updated",
            "dispute.funds_reinstated",
            "dispute.closed",
        ]
        closed = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "dispute.closed")
        ).scalar_one()
        assert closed.actor_label == "test" and closed.details["outcome"] == "won"


def test_a_repeat_changes_nothing_and_audits_nothing(app, payment):
    _, intent = payment
    with app.app_context():
        sync.apply_dispute(facts(intent, withdrawn=5000), actor=ACTOR)
        db.session.commit()
        before = dispute_actions()
        assert sync.apply_dispute(facts(intent, withdrawn=5000), actor=ACTOR) is False
        db.session.commit()
        assert dispute_actions() == before == ["dispute.opened", "dispute.funds_withdrawn"]


def test_a_closed_dispute_never_reopens_and_its_money_never_shrinks(app, payment):
    """A stale copy (fetched before the close, applied after it) moves nothing back."""
    _, intent = payment
    with app.app_context():
        sync.apply_dispute(facts(intent, status="lost", withdrawn=5000), actor=ACTOR)
        db.session.commit()
        assert not sync.apply_dispute(facts(intent, status="needs_response"), actor=ACTOR)
        db.session.commit()
        row = the_dispute()
        assert (row.status, row.funds_withdrawn_minor) == ("lost", 5000)
        assert dispute_actions() == ["dispute.opened", "dispute.funds_withdrawn", "dispute.closed"]


def test_a_dispute_is_found_by_its_charge_when_it_names_no_payment_intent(app, payment):
    payment_id, _ = payment
    with app.app_context():
        assert sync.apply_dispute(facts(None, charge="ch_1"), actor=ACTOR)
        db.session.commit()
        assert the_dispute().payment_id == payment_id


def test_someone_elses_dispute_is_not_ours_and_writes_nothing(app, payment):
    with app.app_context():
        assert sync.apply_dispute(facts("pi_elsewhere", charge="ch_other"), actor=ACTOR) is None
        db.session.commit()
        assert db.session.execute(select(Dispute)).first() is None
        assert dispute_actions() == []


def test_the_query_helpers(app, payment):
    payment_id, intent = payment
    with app.app_context():
        sync.apply_dispute(facts(intent), actor=ACTOR)
        db.session.commit()
        assert set(queries.latest_disputes([payment_id, 999])) == {payment_id}
        assert db.session.execute(queries.disputed_payment_ids(open_only=True)).scalars().all() == [
            payment_id
        ]
        sync.apply_dispute(facts(intent, status="lost"), actor=ACTOR)
        db.session.commit()
        assert not db.session.execute(queries.disputed_payment_ids(open_only=True)).first()
        assert db.session.execute(queries.disputed_payment_ids()).scalars().all() == [payment_id]
        assert [d.status for d in queries.disputes_of(payment_id)] == ["lost"]
