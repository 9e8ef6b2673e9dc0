"""Trying a failed refund again: a new refund for the same amount under the usual rules, made
once however often the button is pressed, and refused while the payment is disputed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit import NO_ORIGIN, Actor
from portal.disputes import sync as dispute_sync
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.refund import Refund
from portal.models.types import utcnow
from portal.payments.facts import RefundFacts
from portal.refunds import queries, retrying, service, sync
from tests.unit.disputes.support import facts as dispute
from tests.unit.refunds.support import paid_payment, user


@pytest.fixture
def people(make_staff):
    return {
        "agent": make_staff("agent"),
        "officer": make_staff("backoffice", mfa=True),
        "auditor": make_staff("auditor"),
    }


def failed_refund(payment, requester, amount=1000) -> Refund:
    refund = service.request_refund(
        payment.id,
        amount_minor=amount,
        reason_code="goodwill",
        note="Sorry for the wait",
        requester=requester,
        reauthenticated_at=utcnow(),
        origin=NO_ORIGIN,
    )
    if refund.status == "requested":
        facts = RefundFacts(
            id=f"re_{refund.id}",
            status="failed",
            amount=amount,
            currency="GBP",
            payment_intent_id=payment.stripe_payment_intent_id,
            failure_reason="expired_or_canceled_card",
        )
        sync.apply_facts(refund, facts, actor=Actor("test"))
        db.session.commit()
    return refund


def again(refund_id, requester, **overrides):
    kwargs = {"requester": requester, "reauthenticated_at": utcnow(), "origin": NO_ORIGIN}
    return retrying.try_again(refund_id, **{**kwargs, **overrides})


def test_a_failed_refund_is_tried_again_as_a_new_refund_for_the_same_amount(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        officer = user(people["officer"])
        failed = failed_refund(payment, officer)
        assert queries.failed_refunds(payment.id) == [failed]
        assert retrying.can_try_again(failed)

        new = again(failed.id, officer)

        assert (new.status, new.amount_minor, new.reason_code) == ("requested", 1000, "goodwill")
        assert new.retry_of_id == failed.id and new.id != failed.id
        assert db.session.get(Refund, failed.id).status == "failed"  # its record stays
        assert queries.failed_refunds(payment.id) == []
        assert not retrying.can_try_again(failed)
        assert retrying.retry_of(failed.id).id == new.id
        audit_row = db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == "refund.requested")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).scalar_one()
        assert audit_row.details["retry_of"] == failed.id
        assert audit_row.actor_label == people["officer"].username


def test_pressing_try_again_twice_makes_one_refund(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        officer = user(people["officer"])
        failed = failed_refund(payment, officer)
        first = again(failed.id, officer)
        with pytest.raises(service.AlreadyRequested) as second:
            again(failed.id, officer)
        assert second.value.refund.id == first.id
        assert "already tried again" in str(second.value)
        assert db.session.query(Refund).count() == 2


def test_the_usual_rules_hold(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 500
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        officer = user(people["officer"])
        failed = failed_refund(payment, officer)  # above the limit: waits for approval...
        assert failed.status == "pending_approval"
        app.config["REFUND_DUAL_CONTROL_MINOR"] = 5000
        with pytest.raises(service.WrongState):  # ...so it has not failed: nothing to retry
            again(failed.id, officer)
        failed = failed_refund(payment, officer)
        app.config["REFUND_DUAL_CONTROL_MINOR"] = 500
        with pytest.raises(service.ReauthRequired):
            again(failed.id, officer, reauthenticated_at=None)
        with pytest.raises(service.NotAllowed):
            again(failed.id, user(people["auditor"]))
        new = again(failed.id, officer)
        assert (new.status, new.requires_approval) == ("pending_approval", True)


def test_not_more_than_is_left(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id, amount_minor=1500)
        officer = user(people["officer"])
        failed = failed_refund(payment, officer, amount=1000)
        service.request_refund(
            payment.id,
            amount_minor=1000,
            reason_code="goodwill",
            note="Refunded another way",
            requester=officer,
            reauthenticated_at=utcnow(),
            origin=NO_ORIGIN,
        )
        with pytest.raises(service.OverRefund, match="at most £5.00"):
            again(failed.id, officer)


def test_no_refund_while_the_payment_is_disputed(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        officer = user(people["officer"])
        failed = failed_refund(payment, officer)
        dispute_sync.apply_dispute(dispute(payment.stripe_payment_intent_id), actor=Actor("t"))
        db.session.commit()
        with pytest.raises(service.Disputed, match="disputed by the cardholder's bank"):
            again(failed.id, officer)
        with pytest.raises(service.Disputed, match="cannot be refunded here"):
            service.request_refund(
                payment.id,
                amount_minor=100,
                reason_code="goodwill",
                note="Trying anyway",
                requester=officer,
                reauthenticated_at=utcnow(),
                origin=NO_ORIGIN,
            )
        assert db.session.query(Refund).count() == 1
        standing = queries.refund_standing(payment)
        assert standing.open_dispute is not None and not standing.refundable
        # Won or not, Stripe refunds no charged-back payment: still refused once it is decided.
        dispute_sync.apply_dispute(
            dispute(payment.stripe_payment_intent_id, status="won"), actor=Actor("t")
        )
        db.session.commit()
        assert not queries.refund_standing(payment).refundable
        with pytest.raises(service.Disputed, match="cannot be refunded here"):
            again(failed.id, officer)
        assert db.session.query(Refund).count() == 1


class NoStripe:
    """A gateway that must not be used: any call fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"Stripe was asked ({name}) although the payment is disputed")


def test_a_refund_approved_after_a_dispute_opened_is_refused_without_asking_stripe(
    app, people, make_staff
):
    from portal.refunds import submission

    app.config["REFUND_DUAL_CONTROL_MINOR"] = 500
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        officer = user(people["officer"])
        waiting = failed_refund(payment, officer)  # above the limit: waits for approval
        checker = user(make_staff("backoffice", mfa=True))
        dispute_sync.apply_dispute(dispute(payment.stripe_payment_intent_id), actor=Actor("t"))
        db.session.commit()
        approved = service.approve(
            waiting.id, approver=checker, reauthenticated_at=utcnow(), origin=NO_ORIGIN
        )

        outcome = submission.submit(approved, gateway=NoStripe(), actor=Actor("t"))

        assert not outcome.ok
        assert outcome.message.startswith("This payment is disputed by the cardholder's bank")
        row = db.session.get(Refund, waiting.id)
        assert (row.status, row.failure_code) == ("failed", "charge_disputed")
