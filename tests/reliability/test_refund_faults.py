"""Stripe misbehaves (timeouts, 500s, 429s, dropped connections), injected through the sandbox
on ``POST /v1/refunds``, while a back-office member refunds a succeeded payment on the
production-like stack (nginx, gunicorn with production settings, PostgreSQL, Redis, both
workers).

Every call for one refund carries the same idempotency key (``postern-refund-<row id>``), so
Stripe never makes two refunds; when the faults outlast the SDK's retries the staff member is
told plainly that the refund is saved but not confirmed, and pressing "Try again" later
finishes it, still with one refund. Every step is in the audit trail.

Production's STRIPE_TIMEOUT_SECONDS (10 s) is kept, so a timeout costs ten seconds per call: it
is met once (absorbed by the SDK's retry); faults that outlast the retries use "drop", which
has the same effect at Stripe (the refund made, the answer lost) without the wait, and "500"
and "429", which Stripe refuses before acting.

The webhook worker is paused (SIGSTOP, once it has nothing to do) while faults are armed: the
sandbox aims faults by path only, and the worker's own reading of a refund would take a fault
meant for the back office. Once it goes on (SIGCONT) it handles Stripe's refund events, and the
refund must still be there once. The module's
stack has its rate limits lifted (every simulated browser shares 127.0.0.1); nothing else
differs from production.
"""

from __future__ import annotations

import html

import pytest

from portal.payments.gateway import MAX_NETWORK_RETRIES
from portal.refunds.wording import PROVIDER_UNAVAILABLE
from tests.reliability.refund_support import (
    Refunds,
    ask_full_refund,
    officer_of,
    page_after,
    paid_by_customer,
    press,
    refund_form,
)
from tests.reliability.stack_support import add_agent, audit_verify, resume
from tests.reliability.support import record_fault

pytestmark = [pytest.mark.reliability, pytest.mark.prodlike]
#: The gateway's SDK client makes 1 call + its retries; this many faults outlast them all.
OUTLASTING = 1 + MAX_NETWORK_RETRIES
#: Faults that let Stripe make the refund and then lose the answer (the retry is replayed);
#: the others refuse the call before Stripe acts (the retry really makes the refund).
ANSWER_LOST = {"timeout", "drop"}
#: Stripe's SDK does not retry a 429, so the staff member's "Try again" is the retry.
NOT_RETRIED_BY_SDK = {"429"}
#: What the gateway calls each fault (ProviderUnavailable.reason), kept in the audit trail.
AUDITED_REASON = {
    "timeout": "timeout",
    "drop": "connection",
    "500": "server",
    "429": "rate_limited",
}
PAID_MINOR = 1250
#: Above the default dual-control limit (£100.00): a second person must approve.
LARGE_MINOR = 25000
SENT = "Refund sent to Stripe: Refunded."


@pytest.fixture(scope="module")
def agent_id(fault_stack) -> int:
    return add_agent(fault_stack, "refundagent")


@pytest.fixture
def paying(stack, agent_id):
    """``paying(amount_minor)``: a payment a customer made through the real pages, the webhook
    worker then paused (its events handled first), as a Refunds view. The worker goes on after
    the test, whatever happened."""
    made = []

    def pay(amount_minor: int) -> Refunds:
        made.append(paid_by_customer(stack, agent_id, amount_minor))
        return made[-1]

    yield pay
    stack.sandbox.clear_faults()
    if any(refunds.paused for refunds in made):
        resume(stack, "webhooks-worker")


@pytest.fixture
def paid(paying) -> Refunds:
    """A payment of £12.50 (see ``paying``)."""
    return paying(PAID_MINOR)


@pytest.fixture(scope="module")
def officer(fault_stack):
    """One back-office member for the module (re-authenticated: good for five minutes)."""
    return officer_of(fault_stack)


@pytest.mark.parametrize("fault", ["timeout", "500", "429", "drop"])
def test_one_fault_on_a_refund_is_retried_with_the_same_key(fault, stack, paid, officer):
    """Proves, per fault: a single fault on POST /v1/refunds is absorbed by the SDK's retry
    with the same idempotency key (a lost answer is replayed, not made again) and the staff
    member is told it is refunded; a 429, which the SDK does not retry, is explained and the
    staff member's "Try again" sends the same key. One refund at Stripe, one row, audited; the
    webhook worker's handling of Stripe's events changes nothing."""
    session, user_id = officer
    timeout = float(stack.app().config["STRIPE_TIMEOUT_SECONDS"]) + 5
    stack.sandbox.arm_fault(fault, 1, "/v1/refunds", timeout_seconds=timeout)

    page = page_after(stack, session, ask_full_refund(stack, session, paid.public_id))
    if fault in NOT_RETRIED_BY_SDK:
        assert PROVIDER_UNAVAILABLE in page and SENT not in page
        [waiting] = paid.rows()
        page = page_after(stack, session, press(stack, session, waiting.id, "retry"))

    assert SENT in page and PROVIDER_UNAVAILABLE not in page
    refund = paid.assert_one_refund_everywhere()
    first, second = paid.calls()
    assert first["fault"] == fault and second["fault"] is None
    assert second["status"] == 200 and second["replayed"] is (fault in ANSWER_LOST)
    expected = ["refund.requested", "refund.submitted", "refund.succeeded"]
    if fault in NOT_RETRIED_BY_SDK:
        expected.insert(1, "refund.submit_deferred")
    rows = paid.audit()
    assert [row[0] for row in rows] == expected
    assert {row[1] for row in rows} == {user_id}
    assert refund.submit_attempts == (2 if fault in NOT_RETRIED_BY_SDK else 1)
    doubled = paid.settle()
    audit_verify(stack)
    record_fault(
        f"Stripe {fault} x1 on a refund (POST /v1/refunds)",
        "absorbed by the retry under the same key (429: explained, Try again); one refund",
        f"{len(paid.calls())} calls, 1 key, {'replayed' if second['replayed'] else 'made'} "
        f'by the retry; staff read "{SENT}"; 1 refund at Stripe, 1 row',
        0,
        doubled,
    )


@pytest.mark.parametrize("fault", ["500", "429", "drop"])
def test_faults_outlasting_the_retries_are_explained_and_try_again_refunds_once(
    fault, stack, paid, officer
):
    """Proves, per fault: when Stripe fails every attempt (the SDK's retries included, all
    with one key), the staff member sees the plain "not confirmed, saved, try again, never
    twice" message; the row waits as "requested" with the full amount still held (asking for
    another refund is refused, so nothing can be refunded twice from our side either);
    "Try again" once Stripe answers finishes it: one refund at Stripe (the one a lost answer
    had already made, or a new one under the same key), one succeeded row, each step audited
    by the staff member, and ``flask audit verify`` passes."""
    session, user_id = officer
    stack.sandbox.arm_fault(fault, OUTLASTING, "/v1/refunds")

    page = page_after(stack, session, ask_full_refund(stack, session, paid.public_id))

    assert PROVIDER_UNAVAILABLE in page and SENT not in page
    assert "Not yet confirmed by Stripe" in page and "Try again" in page
    assert "Stripe could not be reached (1 attempt(s))" in page
    [waiting] = paid.rows()
    assert (waiting.status, waiting.amount_minor) == ("requested", PAID_MINOR)
    assert waiting.last_error_code == "provider_unavailable" and waiting.stripe_refund_id is None
    calls = paid.calls()
    assert len(calls) == (1 if fault in NOT_RETRIED_BY_SDK else OUTLASTING)
    assert {call["fault"] for call in calls} == {fault}
    assert {call["idempotency_key"] for call in calls} == {waiting.idempotency_key}
    assert len(paid.made()) == (1 if fault in ANSWER_LOST else 0)

    again = ask_full_refund(stack, session, paid.public_id)
    assert again.status_code == 409
    assert "Nothing is left to refund" in html.unescape(again.text)

    stack.sandbox.clear_faults()  # Stripe answers again (a 429 leaves faults unused)
    page = page_after(stack, session, press(stack, session, waiting.id, "retry"))

    assert SENT in page and PROVIDER_UNAVAILABLE not in page
    refund = paid.assert_one_refund_everywhere()
    assert refund.id == waiting.id and refund.submit_attempts == 2
    # A lost answer: "Try again" finds the refund Stripe made (by our row id in its metadata)
    # and links it. A refused call: "Try again" sends the same key once more.
    assert len(paid.calls()) == len(calls) + (0 if fault in ANSWER_LOST else 1)
    rows = paid.audit()
    assert [row[0] for row in rows] == [
        "refund.requested",
        "refund.submit_deferred",
        "refund.submitted",
        "refund.succeeded",
    ]
    assert {row[1] for row in rows} == {user_id}
    assert rows[1][2] == "failure"
    assert rows[1][3] == {"refund_id": refund.id, "error": AUDITED_REASON[fault], "attempt": 1}
    assert rows[3][3]["amount_minor"] == PAID_MINOR
    doubled = paid.settle()
    audit_verify(stack)
    record_fault(
        f"Stripe {fault} x{OUTLASTING} on a refund, then Try again",
        '"not confirmed, saved, Try again, never twice"; a second refund refused (409); '
        "Try again makes or links one refund",
        f"{len(calls)} failed calls with 1 key ({len(paid.made()) if fault in ANSWER_LOST else 0} "
        f"carried out by Stripe); staff read the words; Try again "
        f"{'linked the refund Stripe had made' if fault in ANSWER_LOST else 'made it'}; "
        "1 refund at Stripe, 1 row",
        0,
        doubled,
    )


def test_a_fault_when_the_approver_sends_a_large_refund_is_explained_and_finished_once(
    stack, paying, officer
):
    """Proves: above the dual-control limit the refund reaches Stripe only when a second,
    re-authenticated person approves it; if Stripe then loses every answer (the refund made,
    the SDK's retries replayed and lost too, all under one key) the approver is told it is
    approved but not confirmed; the approver's "Try again" links the refund Stripe already
    made instead of making another. One refund, one row, requester and approver audited."""
    large = paying(LARGE_MINOR)
    requester, requester_id = officer
    page_after(stack, requester, ask_full_refund(stack, requester, large.public_id))
    [waiting] = large.rows()
    assert waiting.status == "pending_approval" and large.calls() == []

    approver, approver_id = officer_of(stack)
    stack.sandbox.arm_fault("drop", OUTLASTING, "/v1/refunds")
    page = page_after(stack, approver, press(stack, approver, waiting.id, "approve"))

    assert "Refund approved." in page and PROVIDER_UNAVAILABLE in page and SENT not in page
    [approved] = large.rows()
    assert (approved.status, approved.decided_by_id) == ("requested", approver_id)
    assert len(large.calls()) == OUTLASTING
    assert len(large.made()) == 1  # Stripe acted; only the answers were lost

    page = page_after(stack, approver, press(stack, approver, waiting.id, "retry"))

    assert SENT in page
    [made] = large.at_stripe()
    [refund] = large.rows()
    assert (refund.status, refund.amount_minor, refund.stripe_refund_id) == (
        "succeeded",
        LARGE_MINOR,
        made["id"],
    )
    assert {call["idempotency_key"] for call in large.calls()} == {refund.idempotency_key}
    assert len(large.calls()) == OUTLASTING  # linked, not asked for again
    assert [(row[0], row[1]) for row in large.audit()] == [
        ("refund.requested", requester_id),
        ("refund.approved", approver_id),
        ("refund.submit_deferred", approver_id),
        ("refund.submitted", approver_id),
        ("refund.succeeded", approver_id),
    ]
    doubled = large.settle()
    audit_verify(stack)
    record_fault(
        f"Stripe drop x{OUTLASTING} when the approver sends a refund above the dual-control "
        "limit, then Try again",
        "approved but not confirmed, in plain words; Try again links the refund Stripe made",
        f"{OUTLASTING} calls, 1 key, 1 carried out; approver read the words; Try again linked "
        "it without a new call; 1 refund at Stripe, 1 row; requester and approver audited",
        0,
        doubled,
    )


def test_the_form_sent_again_after_a_lost_answer_makes_no_second_refund(stack, paid, officer):
    """Proves: Stripe makes the refund and loses every answer; the staff member, told the
    refund is not confirmed, sends the same form again (back, then Refund): no second row and
    no new call to Stripe; they land on the first refund with a plain "already requested"
    message (not "nothing is left to refund"), and its "Try again" links the refund Stripe made.
    One refund at Stripe, one row, one "refund.requested"."""
    session, user_id = officer
    stack.sandbox.arm_fault("drop", OUTLASTING, "/v1/refunds")
    form = refund_form(stack, session, paid.public_id)
    first = ask_full_refund(stack, session, paid.public_id, form)
    assert PROVIDER_UNAVAILABLE in page_after(stack, session, first)
    calls = len(paid.calls())
    stack.sandbox.clear_faults()  # were the form to reach Stripe again, it would be answered

    sent_again = ask_full_refund(stack, session, paid.public_id, form)

    page = page_after(stack, session, sent_again)
    assert sent_again.headers["Location"] == first.headers["Location"]
    assert "This refund was already requested" in page and "Try again" in page
    assert "Nothing is left to refund" not in page
    assert len(paid.calls()) == calls  # the second submission sent nothing
    [waiting] = paid.rows()
    assert waiting.status == "requested" and waiting.form_key == form["form_key"]

    page = page_after(stack, session, press(stack, session, waiting.id, "retry"))

    assert SENT in page
    refund = paid.assert_one_refund_everywhere()
    assert refund.id == waiting.id
    rows = paid.audit()
    assert [row[0] for row in rows] == [
        "refund.requested",
        "refund.submit_deferred",
        "refund.submitted",
        "refund.succeeded",
    ]
    assert {row[1] for row in rows} == {user_id}
    doubled = paid.settle()
    audit_verify(stack)
    record_fault(
        f"Stripe drop x{OUTLASTING} on a refund, then the same form sent again",
        'no second row, no new call; "already requested"; Try again links the refund',
        "second submission sent nothing and landed on the first refund; Try again linked the "
        "refund Stripe had made; 1 refund at Stripe, 1 row, 1 refund.requested",
        0,
        doubled,
    )
