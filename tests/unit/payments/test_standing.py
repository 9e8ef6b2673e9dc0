"""What a payment reads as: every combination of its facts that matters, and the SQL twin
giving the same answers as the Python rule."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from portal.payments.standing import (
    DECLINE_WORDS,
    GENERIC_DECLINE_WORDS,
    PaymentFacts,
    PaymentState,
    standing,
    state_of,
)
from portal.payments.standing_sql import state_sql

P = PaymentState
PAID = PaymentFacts(
    status="succeeded", amount_minor=1250, currency="GBP", card_brand="visa", card_last4="4242"
)


def facts(**changes) -> PaymentFacts:
    return dataclasses.replace(PAID, **changes)


def test_paid_reads_paid_with_brand_last_four_and_amount():
    s = standing(PAID)
    assert s.state is P.PAID and s.label == "Paid" and s.tone == "good"
    assert (s.paid_minor, s.refunded_minor, s.net_minor) == (1250, 0, 1250)
    assert s.detail == "£12.50 paid with Visa •••• 4242."
    assert s.card_parts == {"brand": "Visa", "last4": "4242"}


def test_a_full_refund_reads_refunded_and_nets_to_nothing():
    s = standing(facts(refunded_minor=1250))
    assert s.state is P.REFUNDED and s.label == "Refunded"
    assert (s.paid_minor, s.refunded_minor, s.net_minor) == (1250, 1250, 0)
    assert "Refunded in full (£12.50); nothing kept." in s.detail
    assert s.money_taken and s.tone == "muted"


def test_a_partial_refund():
    s = standing(facts(refunded_minor=500))
    assert s.state is P.PARTIALLY_REFUNDED and s.label == "Partially refunded"
    assert (s.refunded_minor, s.net_minor) == (500, 750)
    assert "£5.00 refunded. £7.50 kept." in s.detail


def test_a_pending_refund_is_shown_but_not_yet_taken_off():
    s = standing(facts(pending_refund_minor=1250))
    assert s.state is P.REFUND_PENDING and s.label == "Refund pending"
    assert (s.refunded_minor, s.pending_refund_minor, s.net_minor) == (0, 1250, 1250)
    assert "A refund of £12.50 is on its way" in s.detail


def test_a_pending_refund_after_a_partial_one():
    s = standing(facts(refunded_minor=250, pending_refund_minor=1000))
    assert s.state is P.REFUND_PENDING and s.net_minor == 1000


def test_a_failed_refund_counts_for_nothing():
    # refund_totals counts only succeeded refunds: a failed one reaches us as no amount at all.
    s = standing(facts(refunded_minor=0, pending_refund_minor=0))
    assert s.state is P.PAID and s.net_minor == 1250


@pytest.mark.parametrize(
    ("dispute", "state", "net", "disputed"),
    [
        ("needs_response", P.DISPUTED, 0, 1250),
        ("under_review", P.DISPUTED, 0, 1250),
        ("warning_needs_response", P.DISPUTED, 1250, 1250),  # an inquiry takes no money back
        ("warning_under_review", P.DISPUTED, 1250, 1250),
        ("won", P.DISPUTE_WON, 1250, 1250),
        ("lost", P.DISPUTE_LOST, 0, 1250),
        ("warning_closed", P.PAID, 1250, 0),
    ],
)
def test_disputes_open_won_and_lost(dispute, state, net, disputed):
    s = standing(facts(dispute_status=dispute, dispute_amount_minor=1250))
    assert (s.state, s.net_minor, s.disputed_minor) == (state, net, disputed)
    assert s.dispute_status == dispute


def test_an_open_dispute_outranks_a_refund_and_names_the_amount():
    s = standing(facts(dispute_status="needs_response", dispute_amount_minor=1250))
    assert s.label == "Disputed" and s.tone == "bad" and s.disputed_minor == 1250
    assert "disputed £12.50: the money is held until the dispute is decided" in s.detail
    assert standing(facts(dispute_status="lost", dispute_amount_minor=1250)).detail.endswith(
        "£12.50 went back. £0.00 kept."
    )


def test_an_inquiry_says_no_money_has_moved():
    s = standing(facts(dispute_status="warning_needs_response", dispute_amount_minor=1250))
    assert s.label == "Disputed"
    assert (
        "is asking about £12.50 (an inquiry): the dispute has moved no money yet. £12.50 kept."
        in s.detail
    )


def test_a_dispute_after_a_partial_refund_names_the_refund_so_the_figures_add_up():
    """£12.50 paid, £5.00 refunded, £7.50 charged back: £0.00 kept, and the sentence says
    where each pound went; an inquiry after a full refund does not claim no money moved."""
    chargeback = standing(
        facts(refunded_minor=500, dispute_status="needs_response", dispute_amount_minor=750)
    )
    assert chargeback.detail == (
        "£12.50 paid with Visa •••• 4242. £5.00 refunded. The customer's bank has disputed "
        "£7.50: the money is held until the dispute is decided. £0.00 kept."
    )
    inquiry = standing(
        facts(
            refunded_minor=1250, dispute_status="warning_needs_response", dispute_amount_minor=1250
        )
    )
    assert "£12.50 refunded. The customer's bank is asking about £12.50" in inquiry.detail
    assert inquiry.detail.endswith("the dispute has moved no money yet. £0.00 kept.")
    lost = standing(facts(refunded_minor=500, dispute_status="lost", dispute_amount_minor=750))
    assert lost.detail.endswith(
        "£5.00 refunded. The dispute was lost: £7.50 went back. £0.00 kept."
    )


def test_a_won_dispute_then_a_partial_refund_reads_partially_refunded():
    s = standing(facts(dispute_status="won", dispute_amount_minor=1250, refunded_minor=250))
    assert s.state is P.PARTIALLY_REFUNDED and s.net_minor == 1000


def test_net_never_goes_below_nothing():
    s = standing(facts(refunded_minor=1250, dispute_status="lost", dispute_amount_minor=1250))
    assert s.net_minor == 0


@pytest.mark.parametrize(
    ("changes", "state", "label"),
    [
        ({"status": None}, P.NOT_STARTED, "Not started"),
        ({"status": "creating"}, P.ON_PAYMENT_PAGE, "On the payment page"),
        ({"status": "requires_payment_method"}, P.ON_PAYMENT_PAGE, "On the payment page"),
        ({"status": "requires_action"}, P.CONFIRMING, "Confirming with their bank"),
        ({"status": "processing"}, P.PROCESSING, "Processing"),
        ({"status": "canceled"}, P.CANCELLED, "Cancelled"),
        ({"status": "canceled", "failed_attempts": 3}, P.FAILED, "Failed"),
        (
            {"status": "requires_payment_method", "failed_attempts": 3, "decline_code": "x"},
            P.FAILED,
            "Failed",
        ),
    ],
)
def test_moments_before_the_money(changes, state, label):
    s = standing(facts(**changes))
    assert s.state is state and s.label == label
    assert (s.paid_minor, s.net_minor, s.card) == (0, 0, None)
    assert "requires" not in s.detail and "_" not in s.detail


def test_declined_says_why_and_how_many_attempts_are_left():
    s = standing(
        facts(
            status="requires_payment_method",
            failed_attempts=1,
            failure_code="card_declined",
            decline_code="insufficient_funds",
        )
    )
    assert s.state is P.DECLINED and s.label == "Declined (2 attempts left)" and s.tone == "bad"
    assert s.decline_reason == "there is not enough money available on the card"
    assert s.detail == (
        "Declined: there is not enough money available on the card. No money was taken. "
        "2 attempts left."
    )
    assert s.card is None  # a declined card is not shown as if it had paid


def test_a_failed_3d_secure_reads_as_the_bank_check_not_completed():
    s = standing(
        facts(
            status="requires_payment_method",
            failed_attempts=2,
            failure_code="payment_intent_authentication_failure",
        )
    )
    assert s.label == "Declined (1 attempt left)"
    assert "security check (3-D Secure) was not completed" in s.detail


def test_fraud_hints_are_never_read_out():
    for code in ("fraudulent", "stolen_card", "lost_card", "pickup_card"):
        assert code not in DECLINE_WORDS
        s = standing(facts(status="requires_payment_method", failed_attempts=1, decline_code=code))
        assert s.decline_reason == GENERIC_DECLINE_WORDS


def test_other_currencies_format_with_their_own_places():
    s = standing(facts(amount_minor=1250, currency="JPY", refunded_minor=250))
    assert s.detail == "¥1,250 paid with Visa •••• 4242. ¥250 refunded. ¥1,000 kept."
    assert standing(facts(currency="KWD")).detail.startswith("1.250 KWD paid")


# --- the SQL twin ------------------------------------------------------------------------------

CASES = [
    facts(status=None),
    facts(status="creating"),
    facts(status="requires_payment_method"),
    facts(status="requires_payment_method", failure_code="card_declined", failed_attempts=1),
    facts(status="requires_payment_method", decline_code="", failure_code=""),
    facts(status="requires_payment_method", decline_code="x", failed_attempts=3),
    facts(status="requires_confirmation"),
    facts(status="requires_action"),
    facts(status="requires_action", failed_attempts=3),
    facts(status="processing"),
    facts(status="requires_capture"),
    facts(status="canceled"),
    facts(status="canceled", failed_attempts=3),
    PAID,
    facts(refunded_minor=1250),
    facts(refunded_minor=2000),
    facts(refunded_minor=1),
    facts(pending_refund_minor=5),
    facts(refunded_minor=1250, pending_refund_minor=5),
    *(
        facts(dispute_status=d, dispute_amount_minor=1250, refunded_minor=r)
        for d in (
            "needs_response",
            "under_review",
            "warning_needs_response",
            "warning_under_review",
            "warning_closed",
            "won",
            "lost",
        )
        for r in (0, 500, 1250)
    ),
]


def test_every_state_is_reached_by_the_cases():
    assert {state_of(case) for case in CASES} == set(PaymentState)


def test_the_sql_rule_gives_the_same_state_as_the_python_rule():
    table = Table(
        "facts",
        MetaData(),
        Column("n", Integer, primary_key=True),
        Column("status", String),
        Column("amount", Integer),
        Column("failed", Integer),
        Column("failure_code", String),
        Column("decline_code", String),
        Column("refunded", Integer),
        Column("pending", Integer),
        Column("dispute", String),
    )
    rows = [
        {
            "n": n,
            "status": f.status,
            "amount": f.amount_minor,
            "failed": f.failed_attempts,
            "failure_code": f.failure_code,
            "decline_code": f.decline_code,
            "refunded": f.refunded_minor,
            "pending": f.pending_refund_minor,
            "dispute": f.dispute_status,
        }
        for n, f in enumerate(CASES)
    ]
    c = table.c
    expression = state_sql(
        status=c.status,
        amount=c.amount,
        failed_attempts=c.failed,
        max_attempts=3,
        failure_code=c.failure_code,
        decline_code=c.decline_code,
        refunded=c.refunded,
        pending=c.pending,
        dispute_status=c.dispute,
    )
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
        got = [row[0] for row in connection.execute(select(expression).order_by(c.n))]
    assert got == [state_of(f).value for f in CASES]
