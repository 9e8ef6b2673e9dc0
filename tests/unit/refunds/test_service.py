"""The refund rules, each enforced by the service whatever the caller: permission, recent
re-authentication, a reason without card numbers, only succeeded payments, never more than
what is left, dual control above the limit and never by the requester."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models.types import utcnow
from portal.refunds import service
from tests.unit.refunds.support import paid_payment, user


@pytest.fixture
def people(make_staff):
    return {
        "agent": make_staff("agent"),
        "officer": make_staff("backoffice", mfa=True),
        "checker": make_staff("backoffice", mfa=True),
        "auditor": make_staff("auditor"),
    }


def ask(payment_id, requester, amount=1000, **overrides):
    kwargs = {
        "amount_minor": amount,
        "reason_code": "duplicate",
        "note": "Paid twice on the phone",
        "requester": requester,
        "reauthenticated_at": utcnow(),
        **overrides,
    }
    return service.request_refund(payment_id, **kwargs)


def test_a_refund_below_the_limit_is_requested_at_once(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund = ask(payment.id, user(people["officer"]))
        assert (refund.status, refund.requires_approval) == ("requested", False)
        assert refund.idempotency_key == f"postern-refund-{refund.id}"


def test_above_the_limit_it_waits_for_approval(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 1000
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        at_limit = ask(payment.id, user(people["officer"]), amount=1000)
        above = ask(payment.id, user(people["officer"]), amount=1001)
        assert at_limit.status == "requested" and above.status == "pending_approval"


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"reauthenticated_at": None}, service.ReauthRequired, "Confirm it is you"),
        (
            {"reauthenticated_at": utcnow() - timedelta(minutes=6)},
            service.ReauthRequired,
            "Confirm it is you",
        ),
        ({"note": "  "}, service.RefundError, "Give a reason"),
        ({"note": "card 4242 4242 4242 4242"}, service.RefundError, "card number"),
        ({"note": "x" * 201}, service.RefundError, "200 characters"),
        ({"reason_code": "because"}, service.RefundError, "Choose a reason"),
        ({"amount_minor": 0}, service.RefundError, "greater than zero"),
        ({"amount_minor": 5001}, service.OverRefund, "at most £50.00"),
    ],
)
def test_what_is_refused(app, people, overrides, error, words):
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        with pytest.raises(error, match=words):
            ask(payment.id, user(people["officer"]), **overrides)
        assert service.refunds_of(payment) == []


def test_only_people_who_may_refund_can(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        for role in ("agent", "auditor"):
            with pytest.raises(service.NotAllowed):
                ask(payment.id, user(people[role]))


def test_only_a_succeeded_payment_can_be_refunded(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id, status="requires_payment_method")
        with pytest.raises(service.NotRefundable):
            ask(payment.id, user(people["officer"]))


def test_pending_and_requested_amounts_count_against_what_is_left(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 2000
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        ask(payment.id, user(people["officer"]), amount=3000)  # pending approval
        ask(payment.id, user(people["officer"]), amount=1500)  # requested
        position = service.position(payment)
        assert (position.paid, position.committed, position.remaining) == (5000, 4500, 500)
        with pytest.raises(service.OverRefund, match="£45.00 is already refunded or on its way"):
            ask(payment.id, user(people["officer"]), amount=501)


def test_dual_control_never_by_the_requester(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 100
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund = ask(payment.id, user(people["officer"]))
        with pytest.raises(service.NotAllowed, match="someone other than you"):
            service.approve(
                refund.id, approver=user(people["officer"]), reauthenticated_at=utcnow()
            )
        with pytest.raises(service.NotAllowed):
            service.approve(
                refund.id, approver=user(people["auditor"]), reauthenticated_at=utcnow()
            )
        with pytest.raises(service.ReauthRequired):
            service.approve(refund.id, approver=user(people["checker"]), reauthenticated_at=None)
        approved = service.approve(
            refund.id, approver=user(people["checker"]), reauthenticated_at=utcnow()
        )
        assert approved.status == "requested" and approved.decided_by_id == people["checker"].id
        with pytest.raises(service.WrongState):  # a second click finds nothing to approve
            service.approve(
                refund.id, approver=user(people["checker"]), reauthenticated_at=utcnow()
            )
        with pytest.raises(service.WrongState):
            service.reject(refund.id, approver=user(people["checker"]), note="Too late")


def test_a_rejection_frees_the_amount(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 100
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund = ask(payment.id, user(people["officer"]), amount=5000)
        with pytest.raises(service.RefundError, match="Give a reason for rejecting"):
            service.reject(refund.id, approver=user(people["checker"]), note="")
        service.reject(refund.id, approver=user(people["checker"]), note="No receipt")
        db.session.expire_all()
        assert service.position(payment).remaining == 5000
