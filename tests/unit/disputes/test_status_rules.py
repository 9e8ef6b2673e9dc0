"""One reading of every dispute status, wherever it is asked: the model, the queries, the refund
rules, reconcile and the payment's standing in Python and in SQL. A status Stripe adds later
(``prevented``) is read everywhere as an open chargeback, and an inquiry never stops a refund."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from portal.audit import NO_ORIGIN, Actor
from portal.disputes import queries, sync
from portal.disputes import reconcile as dispute_reconcile
from portal.extensions import db
from portal.models.dispute import (
    Dispute,
    DisputeStatus,
    is_inquiry_status,
    is_open_status,
    open_status_sql,
    refund_blocking_sql,
    status_blocks_refund,
    status_withholds_funds,
    withheld_sql,
)
from portal.models.types import utcnow
from portal.payments.standing import PaymentFacts, PaymentState, standing, state_of
from portal.payments.standing_sql import state_sql
from portal.refunds import queries as refund_queries
from portal.refunds import service
from tests.unit.disputes.support import facts
from tests.unit.refunds.support import paid_payment, user

#: status: (open, an inquiry, blocks a refund, its amount taken back from us)
EXPECTED = {
    "warning_needs_response": (True, True, False, False),
    "warning_under_review": (True, True, False, False),
    "warning_closed": (False, False, False, False),
    "needs_response": (True, False, True, True),
    "under_review": (True, False, True, True),
    # A decided chargeback stays unrefundable at Stripe (is_charge_refundable is false).
    "won": (False, False, True, False),
    "lost": (False, False, True, True),
    # Not a status Postern knows: read as an open chargeback until it is taught the word.
    "prevented": (True, False, True, True),
}


def test_every_known_status_is_in_the_table():
    assert {status.value for status in DisputeStatus} == set(EXPECTED) - {"prevented"}


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_the_python_rules(status):
    is_open, inquiry, blocks, withheld = EXPECTED[status]
    row = Dispute(status=status)
    assert (is_open_status(status), row.is_open) == (is_open, is_open)
    assert (is_inquiry_status(status), row.is_inquiry) == (inquiry, inquiry)
    assert (status_blocks_refund(status), row.blocks_refund) == (blocks, blocks)
    assert status_withholds_funds(status) is withheld
    paid = PaymentFacts(
        status="succeeded",
        amount_minor=1250,
        currency="GBP",
        dispute_status=status,
        dispute_amount_minor=1250,
    )
    assert (state_of(paid) is PaymentState.DISPUTED) is is_open
    assert standing(paid).net_minor == (0 if withheld else 1250)


def test_no_dispute_is_none_of_them():
    assert not any(
        rule(None)
        for rule in (
            is_open_status,
            is_inquiry_status,
            status_blocks_refund,
            status_withholds_funds,
        )
    )


def test_the_sql_rules_read_every_status_as_python_does():
    table = Table("d", MetaData(), Column("n", Integer, primary_key=True), Column("s", String))
    statuses = [*sorted(EXPECTED), None]
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    paid = PaymentFacts(status="succeeded", amount_minor=1250, currency="GBP")
    c = table.c
    facts_table = Table(
        "f",
        MetaData(),
        Column("n", Integer, primary_key=True),
        Column("status", String),
        Column("amount", Integer),
        Column("zero", Integer),
        Column("code", String),
        Column("dispute", String),
    )
    facts_table.metadata.create_all(engine)
    f = facts_table.c
    state = state_sql(
        status=f.status,
        amount=f.amount,
        failed_attempts=f.zero,
        max_attempts=3,
        failure_code=f.code,
        decline_code=f.code,
        refunded=f.zero,
        pending=f.zero,
        dispute_status=f.dispute,
    )
    with engine.begin() as connection:
        connection.execute(insert(table), [{"n": n, "s": s} for n, s in enumerate(statuses)])
        connection.execute(
            insert(facts_table),
            [
                {"n": n, "status": "succeeded", "amount": 1250, "zero": 0, "dispute": s}
                for n, s in enumerate(statuses)
            ],
        )
        rules = [open_status_sql(c.s), refund_blocking_sql(c.s), withheld_sql(c.s)]
        got = [
            tuple(bool(value) for value in row)
            for row in connection.execute(select(*rules).order_by(c.n))
        ]
        states = list(connection.execute(select(state).order_by(f.n)).scalars())
    want = [
        (is_open_status(s), status_blocks_refund(s), status_withholds_funds(s)) for s in statuses
    ]
    assert got == want
    assert states == [state_of(dataclasses.replace(paid, dispute_status=s)).value for s in statuses]


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_the_queries_refunds_and_reconcile_agree(app, make_staff, status):
    is_open, inquiry, blocks, _ = EXPECTED[status]
    agent, officer = make_staff("agent"), make_staff("backoffice", mfa=True)
    with app.app_context():
        payment = paid_payment(agent.id)
        sync.apply_dispute(
            facts(payment.stripe_payment_intent_id, status=status, amount=1250),
            actor=Actor("test"),
        )
        db.session.commit()

        assert (queries.open_dispute_for(payment.id) is not None) is is_open
        open_ids = set(db.session.execute(queries.disputed_payment_ids(open_only=True)).scalars())
        assert (payment.id in open_ids) is is_open
        fetched_again = set(dispute_reconcile._payment_ids(lookback_days=7))
        assert (payment.id in fetched_again) is is_open
        assert (queries.refund_blocking_dispute_for(payment.id) is not None) is blocks
        refund_standing = refund_queries.refund_standing(payment)
        assert refund_standing.refundable is not blocks
        if blocks:
            with pytest.raises(service.Disputed):
                ask(payment, user(officer))
        else:
            assert ask(payment, user(officer)).status == "requested"
        if inquiry:
            assert refund_standing.open_dispute.is_inquiry


def ask(payment, requester):
    return service.request_refund(
        payment.id,
        amount_minor=100,
        reason_code="goodwill",
        note="Sorry",
        requester=requester,
        reauthenticated_at=utcnow(),
        origin=NO_ORIGIN,
    )


def test_an_unknown_status_is_stored_as_sent_and_named_to_operators(app, make_staff, caplog):
    agent = make_staff("agent")
    with app.app_context():
        payment = paid_payment(agent.id)
        with caplog.at_level("WARNING", logger="postern.disputes"):
            sync.apply_dispute(
                facts(payment.stripe_payment_intent_id, status="prevented"), actor=Actor("t")
            )
        db.session.commit()
        assert queries.disputes_of(payment.id)[0].status == "prevented"
    assert "dispute status not known to Postern" in caplog.text
