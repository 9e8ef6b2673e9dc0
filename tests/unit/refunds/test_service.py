"""The refund rules, each enforced by the service whatever the caller: permission, recent
re-authentication, a reason without card numbers, only succeeded payments, never more than
what is left, dual control above the limit and never by the requester."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.audit import NO_ORIGIN
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.refund import Refund
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
        "origin": NO_ORIGIN,
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
        with pytest.raises(
            service.OverRefund, match="£45.00 is already refunded, on its way or awaiting approval"
        ):
            ask(payment.id, user(people["officer"]), amount=501)


def test_dual_control_never_by_the_requester(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 100
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund = ask(payment.id, user(people["officer"]))
        with pytest.raises(service.NotAllowed, match="someone other than you"):
            service.approve(
                refund.id,
                approver=user(people["officer"]),
                reauthenticated_at=utcnow(),
                origin=NO_ORIGIN,
            )
        with pytest.raises(service.NotAllowed):
            service.approve(
                refund.id,
                approver=user(people["auditor"]),
                reauthenticated_at=utcnow(),
                origin=NO_ORIGIN,
            )
        with pytest.raises(service.ReauthRequired):
            service.approve(
                refund.id,
                approver=user(people["checker"]),
                reauthenticated_at=None,
                origin=NO_ORIGIN,
            )
        approved = service.approve(
            refund.id,
            approver=user(people["checker"]),
            reauthenticated_at=utcnow(),
            origin=NO_ORIGIN,
        )
        assert approved.status == "requested" and approved.decided_by_id == people["checker"].id
        with pytest.raises(service.WrongState):  # a second click finds nothing to approve
            service.approve(
                refund.id,
                approver=user(people["checker"]),
                reauthenticated_at=utcnow(),
                origin=NO_ORIGIN,
            )
        with pytest.raises(service.WrongState):
            service.reject(
                refund.id, approver=user(people["checker"]), note="Too late", origin=NO_ORIGIN
            )


def test_a_rejection_frees_the_amount(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 100
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        refund = ask(payment.id, user(people["officer"]), amount=5000)
        with pytest.raises(service.RefundError, match="Give a reason for rejecting"):
            service.reject(refund.id, approver=user(people["checker"]), note="", origin=NO_ORIGIN)
        service.reject(
            refund.id, approver=user(people["checker"]), note="No receipt", origin=NO_ORIGIN
        )
        db.session.expire_all()
        assert service.position(payment).remaining == 5000


def _requested_audits() -> int:
    return len(
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "refund.requested")).all()
    )


def test_the_same_form_key_twice_gives_back_the_first_refund(app, people):
    """Proves: a second request with the same form key by the same requester writes nothing
    (no row, no audit entry) and hands back the first refund, even when that first refund
    took everything that was left (the amount is not judged for a form already used)."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        key = service.new_form_key()
        first = ask(payment.id, user(people["officer"]), amount=5000, form_key=key)
        with pytest.raises(service.AlreadyRequested, match="already requested") as sent_twice:
            ask(payment.id, user(people["officer"]), amount=5000, form_key=key)
        assert sent_twice.value.refund.id == first.id
        assert [r.id for r in service.refunds_of(payment)] == [first.id]
        assert _requested_audits() == 1


def test_a_form_key_is_one_requesters(app, people):
    """Proves: keys are scoped per requester (another person's refund with the same key is
    theirs, not a duplicate), and keyless requests (older callers) never collide."""
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 10000
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        key = service.new_form_key()
        mine = ask(payment.id, user(people["officer"]), form_key=key)
        theirs = ask(payment.id, user(people["checker"]), form_key=key)
        keyless = [ask(payment.id, user(people["officer"])) for _ in range(2)]
        assert len({mine.id, theirs.id, *(r.id for r in keyless)}) == 4


def test_a_used_form_key_for_another_payment_is_refused(app, people):
    """Proves: a key already used on one payment is refused on another (not taken as a
    duplicate, not a new refund): a form cannot move between payments."""
    with app.app_context():
        key = service.new_form_key()
        ask(paid_payment(people["agent"].id).id, user(people["officer"]), form_key=key)
        other = paid_payment(people["agent"].id)
        with pytest.raises(service.RefundError, match="already used for another payment"):
            ask(other.id, user(people["officer"]), form_key=key)
        assert service.refunds_of(other) == []


@pytest.mark.parametrize("key", ["", "short", "k" * 33, "not a key at all!!", "é" * 20])
def test_a_garbled_form_key_is_refused(app, people, key):
    """Proves: the service refuses a key not shaped like ``new_form_key``'s, whatever the
    caller (the column holds 32 characters), and writes nothing."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        with pytest.raises(service.RefundError, match="refund form is not valid"):
            ask(payment.id, user(people["officer"]), form_key=key)
        assert service.refunds_of(payment) == []


def test_the_database_refuses_one_form_key_twice_for_one_requester(app, people):
    """Proves: the unique (requester, form key) constraint holds even for a writer that skips
    the service's lookups."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        first = ask(payment.id, user(people["officer"]), form_key=service.new_form_key())
        copy = Refund(
            payment_id=payment.id,
            amount_minor=100,
            currency="GBP",
            reason_code="duplicate",
            status="requested",
            requested_by_id=first.requested_by_id,
            form_key=first.form_key,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        db.session.add(copy)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_form_key_is_22_url_safe_characters_of_16_random_bytes():
    import base64
    import re

    keys = {service.new_form_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(key) == 22 and re.fullmatch(service.FORM_KEY_PATTERN, key)
        assert len(base64.urlsafe_b64decode(key + "==")) == 16


def test_refunds_of_a_payment_are_listed_newest_first(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 10_000
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        made = [ask(payment.id, user(people["officer"]), amount=100).id for _ in range(3)]
        ask(paid_payment(people["agent"].id).id, user(people["officer"]), amount=100)
        assert [refund.id for refund in service.refunds_of(payment)] == sorted(made, reverse=True)


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        ({"reauthenticated_at": None}, "Confirm it is you (password and code) before doing this."),
        ({"reason_code": "because"}, "Choose a reason from the list."),
        ({"amount_minor": -1}, "Enter an amount greater than zero."),
        ({"form_key": "short"}, "The refund form is not valid: open the refund page again."),
    ],
)
def test_each_refusal_is_one_plain_sentence(app, people, overrides, sentence):
    """Proves: staff see exactly these words (the page shows the error's text as it is)."""
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        with pytest.raises(service.RefundError) as refused:
            ask(payment.id, user(people["officer"]), **overrides)
        assert str(refused.value) == sentence


def test_refusals_of_who_and_what_are_plain_sentences(app, people):
    with app.app_context():
        with pytest.raises(service.NotAllowed) as not_allowed:
            ask(paid_payment(people["agent"].id).id, user(people["auditor"]))
        assert str(not_allowed.value) == "You do not have permission to do this."
        unpaid = paid_payment(people["agent"].id, status="requires_payment_method")
        with pytest.raises(service.NotRefundable) as not_refundable:
            ask(unpaid.id, user(people["officer"]))
        assert str(not_refundable.value) == "Only a payment that went through can be refunded."
        key = service.new_form_key()
        ask(paid_payment(people["agent"].id).id, user(people["officer"]), form_key=key)
        with pytest.raises(service.RefundError) as moved:
            ask(paid_payment(people["agent"].id).id, user(people["officer"]), form_key=key)
        assert str(moved.value) == (
            "This refund form was already used for another payment, so nothing was refunded. "
            "Open the refund page again."
        )


def test_a_new_refund_keeps_what_was_asked_and_when(app, people):
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 1000
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        before = utcnow()
        below = ask(payment.id, user(people["officer"]), amount=1000)
        above = ask(payment.id, user(people["officer"]), amount=1001, note="Goodwill, agreed")
        db.session.expire_all()
        stored = [db.session.get(Refund, r.id) for r in (below, above)]
        assert [r.requires_approval for r in stored] == [False, True]
        assert [r.reason_note for r in stored] == ["Paid twice on the phone", "Goodwill, agreed"]
        assert all(r.created_at >= before and r.updated_at == r.created_at for r in stored)
        audited = db.session.execute(
            select(AuditEvent.details)
            .where(AuditEvent.action == "refund.requested")
            .order_by(AuditEvent.id)
        ).scalars()
        assert list(audited) == [
            {
                "refund_id": refund.id,
                "payment_intent": payment.stripe_payment_intent_id,
                "amount_minor": refund.amount_minor,
                "currency": "GBP",
                "reason_code": "duplicate",
                "requires_approval": refund.requires_approval,
            }
            for refund in stored
        ]


def test_a_requester_may_use_a_fresh_form_key_on_a_payment_already_refunded_by_them(app, people):
    """Proves: the duplicate check is by (requester, form key): another form of the same
    requester is a new refund, not the first one handed back."""
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 10_000
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        first = ask(payment.id, user(people["officer"]), form_key=service.new_form_key())
        second = ask(payment.id, user(people["officer"]), form_key=service.new_form_key())
        assert first.id != second.id


def test_a_form_sent_again_is_logged_with_the_refund_and_the_staff_member(app, people, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="postern")
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        key = service.new_form_key()
        first = ask(payment.id, user(people["officer"]), form_key=key)
        with pytest.raises(service.AlreadyRequested):
            ask(payment.id, user(people["officer"]), form_key=key)
    [again] = [r for r in caplog.records if r.name == "postern.refunds"]
    assert again.getMessage() == "refund form sent again; answered with the refund it made"
    assert (again.refund_id, again.staff_id) == (first.id, people["officer"].id)


def test_the_position_counts_only_succeeded_refunds_as_refunded(app, people):
    """Proves: ``refunded`` is the sum of refunds Stripe confirmed (0 when none), ``committed``
    also counts those on their way, and a payment that did not succeed has paid nothing."""
    app.config["REFUND_DUAL_CONTROL_MINOR"] = 10_000
    with app.app_context():
        payment = paid_payment(people["agent"].id)
        assert service.position(payment) == service.Position(5000, 0, 0, "GBP")
        done = ask(payment.id, user(people["officer"]), amount=700)
        ask(payment.id, user(people["officer"]), amount=300)
        done.status = "succeeded"
        db.session.commit()
        assert service.position(payment) == service.Position(5000, 1000, 700, "GBP")
        unpaid = paid_payment(people["agent"].id, status="requires_payment_method")
        assert service.position(unpaid).paid == 0
        assert service.position(unpaid).remaining == 0


def test_two_refunds_racing_on_one_payment_cannot_both_pass_the_amount_check(app, people):
    """Proves: the payment's lock is taken before what is left is read. The test holds the lock
    itself (PostgreSQL: the payment row FOR UPDATE; SQLite: the database's write lock) while
    two requests of £30 on a £50 payment start; once both are about to take the lock (or, were
    it missing, about to write their refund after reading what is left), it lets go. Exactly
    one refund is made, the other is told what is left."""
    import threading

    from sqlalchemy import event, text

    from portal.models.payment import Payment
    from tests.support.loopback import wait_until

    app.config["REFUND_DUAL_CONTROL_MINOR"] = 10_000
    with app.app_context():
        payment_id = paid_payment(people["agent"].id).id
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
    arrived: set[str] = set()

    def note_arrival(conn, cursor, statement, parameters, context, executemany):
        first_write = statement.startswith(("UPDATE payments", "INSERT INTO refunds"))
        if first_write or statement.rstrip().endswith("FOR UPDATE"):
            arrived.add(threading.current_thread().name)

    outcomes: list[str] = []

    def attempt(person) -> None:
        with app.app_context():
            try:
                ask(payment_id, user(person), amount=3000)
                outcomes.append("refunded")
            except service.OverRefund:
                outcomes.append("over")
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=attempt, args=(people[who],), name=who)
        for who in ("officer", "checker")
    ]
    blocker = engine.connect()
    event.listen(engine, "before_cursor_execute", note_arrival)
    try:
        if postgres:
            blocker.execute(
                text("SELECT id FROM payments WHERE id = :id FOR UPDATE"), {"id": payment_id}
            )
        else:
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        for thread in threads:
            thread.start()
        wait_until(lambda: {"officer", "checker"} <= arrived, 10, "both requests at the lock")
    finally:
        blocker.rollback()
        blocker.close()
        for thread in threads:
            thread.join(timeout=30)
        event.remove(engine, "before_cursor_execute", note_arrival)

    assert sorted(outcomes) == ["over", "refunded"]
    with app.app_context():
        assert [
            r.amount_minor for r in service.refunds_of(db.session.get(Payment, payment_id))
        ] == [3000]
