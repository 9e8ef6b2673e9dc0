"""Dual-control decisions touch exactly one refund, once: approving or rejecting one pending
refund leaves every other pending refund as it was, and an approval racing a rejection of the
same refund has exactly one winner, the other told plainly that the refund was already decided.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from portal.audit import NO_ORIGIN
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.refund import Refund
from portal.models.types import utcnow
from portal.refunds import service
from tests.unit.refunds.support import paid_payment, user


@pytest.fixture
def people(app, make_staff):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 100
    return {
        "agent": make_staff("agent"),
        "officer": make_staff("backoffice", mfa=True),
        "checker": make_staff("backoffice", mfa=True),
        "second_checker": make_staff("backoffice", mfa=True),
    }


def pending_refund(payment_id: int, requester, amount: int = 1000) -> Refund:
    refund = service.request_refund(
        payment_id,
        amount_minor=amount,
        reason_code="duplicate",
        note="Paid twice on the phone",
        requester=requester,
        reauthenticated_at=utcnow(),
        origin=NO_ORIGIN,
    )
    assert refund.status == "pending_approval"
    return refund


def statuses(*refund_ids: int) -> list[str]:
    db.session.expire_all()
    return [db.session.get(Refund, refund_id).status for refund_id in refund_ids]


def approve(refund_id: int, approver) -> Refund:
    return service.approve(
        refund_id, approver=approver, reauthenticated_at=utcnow(), origin=NO_ORIGIN
    )


def reject(refund_id: int, approver) -> Refund:
    return service.reject(refund_id, approver=approver, note="No receipt", origin=NO_ORIGIN)


def decision_audits() -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.details)
        .where(AuditEvent.action.in_(["refund.approved", "refund.rejected"]))
        .order_by(AuditEvent.id)
    ).all()
    return [(action, details["refund_id"]) for action, details in rows]


@pytest.mark.parametrize("decide", [approve, reject], ids=["approve", "reject"])
def test_deciding_one_of_two_pending_refunds_leaves_the_other_pending(app, people, decide):
    """Proves: the decision's conditional UPDATE is keyed on the refund's id; with two refunds
    waiting (on one payment and on another), deciding one leaves both others pending, undecided,
    and audited only for the one decided."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        other_payment = paid_payment(people["agent"].id)
        officer = user(people["officer"])
        first = pending_refund(payment.id, officer)
        second = pending_refund(payment.id, officer)
        elsewhere = pending_refund(other_payment.id, officer)

        decided = decide(second.id, user(people["checker"]))

        status, action = {approve: ("requested", "refund.approved"),
                          reject: ("rejected", "refund.rejected")}[decide]  # fmt: skip
        assert decided.id == second.id
        assert statuses(first.id, second.id, elsewhere.id) == [
            "pending_approval",
            status,
            "pending_approval",
        ]
        assert db.session.get(Refund, first.id).decided_by_id is None
        assert db.session.get(Refund, elsewhere.id).decided_at is None
        assert decision_audits() == [(action, second.id)]


def test_the_other_pending_refund_can_still_be_decided_afterwards(app, people):
    """Proves: after one refund is approved, the other is still open to its own decision (it
    was not swept up by the first), and each decision is audited against its own refund."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        officer = user(people["officer"])
        first = pending_refund(payment.id, officer)
        second = pending_refund(payment.id, officer)

        approve(first.id, user(people["checker"]))
        reject(second.id, user(people["checker"]))

        assert statuses(first.id, second.id) == ["requested", "rejected"]
        # The rejection keeps its reason; an approval has none to keep.
        notes = [db.session.get(Refund, r.id).decision_note for r in (first, second)]
        assert notes == [None, "No receipt"]
        assert decision_audits() == [
            ("refund.approved", first.id),
            ("refund.rejected", second.id),
        ]


def test_approve_racing_reject_has_exactly_one_winner(app, people):
    """Proves: two checkers who both opened the same pending refund, one approving while the
    other rejects at the same moment, cannot both win: the decision's UPDATE only applies while
    the refund is still pending, so the loser's UPDATE (which waits for the winner's commit)
    finds it decided and is told "no longer waiting for approval"; one decision is stored and
    audited. Each thread reads the refund before the barrier, as each checker's page did, so
    both pass the service's first look and the race is decided by the database alone."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund_id = pending_refund(payment.id, user(people["officer"])).id
    barrier = threading.Barrier(2, timeout=10)
    outcomes: dict[str, str] = {}

    def decide(name: str, decision, checker) -> None:
        with app.app_context():
            try:
                me = user(checker)
                # What the checker's page showed: the refund, still pending. Held in a name
                # so the session keeps it (its identity map holds objects weakly), and the
                # service's first look finds it pending as the page did.
                shown = db.session.get(Refund, refund_id)
                assert shown.status == "pending_approval"
                barrier.wait()
                decision(refund_id, me)
                outcomes[name] = "won"
            except service.WrongState as lost:
                outcomes[name] = str(lost)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=decide, args=("approve", approve, people["checker"])),
        threading.Thread(target=decide, args=("reject", reject, people["second_checker"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    assert sorted(outcomes.values()) == ["This refund is no longer waiting for approval.", "won"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    with app.app_context():
        stored = db.session.get(Refund, refund_id)
        expected_status = {"approve": "requested", "reject": "rejected"}[winner]
        expected_decider = {"approve": people["checker"], "reject": people["second_checker"]}
        assert stored.status == expected_status
        assert stored.decided_by_id == expected_decider[winner].id
        assert [action for action, _ in decision_audits()] == [
            {"approve": "refund.approved", "reject": "refund.rejected"}[winner]
        ]


def test_a_decision_records_who_when_and_from_where(app, people):
    """Proves: the decision stores the decider and the moment (decided_at, updated_at), and
    its audit row carries the decider's client origin, as every staff action's row does, and
    names the refund and its amount."""
    from portal.audit import ClientOrigin

    origin = ClientOrigin(ip="192.0.2.7", user_agent="Mozilla/5.0 (checker's browser)")
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund = pending_refund(payment.id, user(people["officer"]))
        before = utcnow()
        service.approve(
            refund.id,
            approver=user(people["checker"]),
            reauthenticated_at=utcnow(),
            origin=origin,
        )
        db.session.expire_all()
        stored = db.session.get(Refund, refund.id)
        assert stored.decided_by_id == people["checker"].id
        assert stored.decided_at is not None and stored.decided_at >= before
        assert stored.updated_at == stored.decided_at
        row = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "refund.approved")
        ).scalar_one()
        assert (row.ip, row.user_agent) == ("192.0.2.7", "Mozilla/5.0 (checker's browser)")
        assert row.details == {"refund_id": refund.id, "amount_minor": 1000}


def test_what_staff_are_told_when_a_decision_cannot_be_made(app, people):
    """Proves: each refusal says exactly what happened, in the words staff see."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund = pending_refund(payment.id, user(people["officer"]))
        checker = user(people["checker"])
        with pytest.raises(service.WrongState) as missing:
            approve(refund.id + 1000, checker)
        assert str(missing.value) == "There is no such refund."
        with pytest.raises(service.NotAllowed) as own:
            approve(refund.id, user(people["officer"]))
        assert str(own.value) == "A refund must be approved or rejected by someone other than you."
        reject(refund.id, checker)
        with pytest.raises(service.WrongState) as decided:
            approve(refund.id, user(people["second_checker"]))
        assert str(decided.value) == "This refund is no longer waiting for approval."


def test_a_form_sent_twice_is_named_as_such(app, people):
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        key = service.new_form_key()
        kwargs = {
            "amount_minor": 50,
            "reason_code": "duplicate",
            "note": "Paid twice on the phone",
            "requester": user(people["officer"]),
            "reauthenticated_at": utcnow(),
            "origin": NO_ORIGIN,
            "form_key": key,
        }
        service.request_refund(payment.id, **kwargs)
        with pytest.raises(service.AlreadyRequested) as again:
            service.request_refund(payment.id, **kwargs)
        assert str(again.value) == "This refund was already requested: the form was sent twice."


@pytest.mark.parametrize(
    ("left", "message"),
    [
        (
            0,
            "Nothing is left to refund on this payment: it has been refunded, or the rest is on "
            "its way or awaiting approval.",
        ),
        (
            1,
            "You can refund at most £0.01: £50.00 was paid and £49.99 is already refunded, on its "
            "way or awaiting approval.",
        ),
    ],
)
def test_an_over_refund_says_what_is_left(app, people, left, message):
    """Proves: with nothing left the refusal says so; with a penny left it names the penny."""
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 10_000
    with app.app_context():
        payment = paid_payment(people["agent"].id, amount_minor=5000)
        officer = user(people["officer"])
        service.request_refund(
            payment.id,
            amount_minor=5000 - left,
            reason_code="duplicate",
            note="Paid twice on the phone",
            requester=officer,
            reauthenticated_at=utcnow(),
            origin=NO_ORIGIN,
        )
        with pytest.raises(service.OverRefund) as over:
            service.request_refund(
                payment.id,
                amount_minor=left + 1,
                reason_code="duplicate",
                note="Paid twice on the phone",
                requester=officer,
                reauthenticated_at=utcnow(),
                origin=NO_ORIGIN,
            )
        assert str(over.value).startswith(message)
