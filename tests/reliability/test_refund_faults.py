"""Stripe misbehaves (timeouts, 500s, 429s, dropped connections), injected through the offline
sandbox on ``POST /v1/refunds``, while a back-office member refunds a succeeded payment.

Every call for one refund carries the same idempotency key (``postern-refund-<row id>``), so
Stripe never makes two refunds; when the faults outlast the SDK's retries the staff member is
told plainly that the refund is saved but not confirmed, and pressing "Try again" later
finishes it, still with one refund. Every step is in the audit trail.

In-process app (runs on SQLite and PostgreSQL), real HTTP to the sandbox through the stripe SDK.
"""

from __future__ import annotations

import html

import pytest
import requests
import stripe

from portal.payments.gateway import MAX_NETWORK_RETRIES
from portal.refunds.wording import PROVIDER_UNAVAILABLE
from tests.conftest import login, post_form
from tests.functional.backoffice_write_support import (
    ask_refund,
    audit_rows,
    paid_request,
    reauth,
    refund_calls,
    refund_form,
    refunds_in_db,
    sandbox_refunds,
)
from tests.functional.payments_support import arm_fault, sandbox_settings
from tests.reliability.support import assert_audit_chain_intact

pytestmark = [pytest.mark.reliability]
FAULTS = ["timeout", "500", "429", "drop"]
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
FULL_REFUND = {"scope": "full", "amount": "", "reason_code": "duplicate", "note": "Paid twice"}
SENT = "Refund sent to Stripe: Refunded."


@pytest.fixture(autouse=True)
def _short_sdk_backoff(monkeypatch):
    """The SDK waits 0.5 s and more between retries; the retries themselves are what is
    tested, not the wait, so it is shortened (as in tests/sandbox/test_faults.py)."""
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)


@pytest.fixture
def bo_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


@pytest.fixture
def paid(bo_app, stripe_sandbox, make_staff) -> str:
    """The public id of a request the customer has paid £12.50 on, through the real pages."""
    return paid_request(bo_app, stripe_sandbox, make_staff("agent").id, amount_minor=PAID_MINOR)


@pytest.fixture
def officer(bo_app, make_staff):
    """A back-office member signed in with password and TOTP, then re-authenticated (refunds
    ask for it within five minutes). ``REFUND_DUAL_CONTROL_MINOR`` is above £12.50, so the
    refund goes straight to Stripe."""
    client = bo_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    return client, user


def _ask_full_refund(client, public_id: str):
    return ask_refund(client, public_id, FULL_REFUND)


def _send(client, public_id: str, form: dict):
    """Send one rendering of the refund form (``refund_form``) for a full refund."""
    return ask_refund(client, public_id, FULL_REFUND, form=form)


def _press_try_again(client, refund_id: int):
    page = f"/backoffice/refunds/{refund_id}"
    return post_form(client, f"{page}/retry", {}, page=page)


def _page_after(client, response) -> str:
    """The page a 303 leads to, as the staff member reads it (flash messages included)."""
    assert response.status_code == 303, response.status_code
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def _refunds_made(sandbox) -> list[dict]:
    """The POST /v1/refunds calls Stripe carried out (answered or not), not replays, read from
    the sandbox's record of calls: a GET /v1/refunds would itself meet the armed faults."""
    return [
        call for call in refund_calls(sandbox) if call["status"] == 200 and not call["replayed"]
    ]


def _clear_faults(sandbox) -> None:
    requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=5).raise_for_status()


def _assert_one_refund_everywhere(bo_app, sandbox, public_id: str):
    """Exactly one refund at Stripe and one row of ours, linked, succeeded, for the full
    amount; every POST /v1/refunds carried that row's key. Returns the row."""
    [refund] = refunds_in_db(bo_app, public_id)
    [made] = sandbox_refunds(sandbox)  # Stripe's own list: the object really exists once
    assert len(_refunds_made(sandbox)) == 1
    assert (refund.status, refund.amount_minor, refund.currency) == ("succeeded", PAID_MINOR, "GBP")
    assert refund.stripe_refund_id == made["id"] and refund.last_error_code is None
    assert made["amount"] == PAID_MINOR and made["metadata"]["postern_refund"] == str(refund.id)
    keys = {call["idempotency_key"] for call in refund_calls(sandbox)}
    assert keys == {refund.idempotency_key}, keys
    return refund


@pytest.mark.parametrize("fault", FAULTS)
def test_one_fault_on_a_refund_is_retried_with_the_same_key(
    fault, bo_app, stripe_sandbox, paid, officer
):
    """Proves, per fault: a single fault on POST /v1/refunds is absorbed by the SDK's retry
    with the same idempotency key (a lost answer is replayed, not made again) and the staff
    member is told it is refunded; a 429, which the SDK does not retry, is explained and the
    staff member's "Try again" sends the same key. One refund at Stripe, one row, audited."""
    client, user = officer
    arm_fault(stripe_sandbox, fault, count=1, path_prefix="/v1/refunds")

    response = _ask_full_refund(client, paid)
    page = _page_after(client, response)
    if fault in NOT_RETRIED_BY_SDK:
        assert PROVIDER_UNAVAILABLE in page and SENT not in page
        [waiting] = refunds_in_db(bo_app, paid)
        page = _page_after(client, _press_try_again(client, waiting.id))

    assert SENT in page and PROVIDER_UNAVAILABLE not in page
    refund = _assert_one_refund_everywhere(bo_app, stripe_sandbox, paid)
    first, second = refund_calls(stripe_sandbox)
    assert first["fault"] == fault and second["fault"] is None
    assert second["status"] == 200 and second["replayed"] is (fault in ANSWER_LOST)
    expected = ["refund.requested", "refund.submitted", "refund.succeeded"]
    if fault in NOT_RETRIED_BY_SDK:
        expected.insert(1, "refund.submit_deferred")
    rows = audit_rows(bo_app, "refund.")
    assert [row.action for row in rows] == expected
    assert {(row.actor_id, row.target_id) for row in rows} == {(user.id, paid)}
    assert refund.submit_attempts == (2 if fault in NOT_RETRIED_BY_SDK else 1)


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_outlasting_the_retries_are_explained_and_try_again_refunds_once(
    fault, bo_app, stripe_sandbox, paid, officer
):
    """Proves, per fault: when Stripe fails every attempt (the SDK's retries included, all
    with one key), the staff member sees the plain "not confirmed, saved, try again, never
    twice" message; the row waits as "requested" with the full amount still held (asking for
    another refund is refused, so nothing can be refunded twice from our side either);
    "Try again" once Stripe answers finishes it: one refund at Stripe (the one a lost answer
    had already made, or a new one under the same key), one succeeded row, each step audited
    by the staff member, and the audit chain intact."""
    client, user = officer
    arm_fault(stripe_sandbox, fault, count=OUTLASTING, path_prefix="/v1/refunds")

    page = _page_after(client, _ask_full_refund(client, paid))

    assert PROVIDER_UNAVAILABLE in page and SENT not in page
    assert "Not yet confirmed by Stripe" in page and "Try again" in page
    assert "Stripe could not be reached (1 attempt(s))" in page
    [waiting] = refunds_in_db(bo_app, paid)
    assert (waiting.status, waiting.amount_minor) == ("requested", PAID_MINOR)
    assert waiting.last_error_code == "provider_unavailable" and waiting.stripe_refund_id is None
    calls = refund_calls(stripe_sandbox)
    assert len(calls) == (1 if fault in NOT_RETRIED_BY_SDK else OUTLASTING)
    assert {call["fault"] for call in calls} == {fault}
    assert {call["idempotency_key"] for call in calls} == {waiting.idempotency_key}
    assert len(_refunds_made(stripe_sandbox)) == (1 if fault in ANSWER_LOST else 0)

    again = _ask_full_refund(client, paid)
    assert again.status_code == 409
    assert "Nothing is left to refund" in html.unescape(again.get_data(as_text=True))

    _clear_faults(stripe_sandbox)  # Stripe answers again (a 429 leaves faults unused)
    page = _page_after(client, _press_try_again(client, waiting.id))

    assert SENT in page and PROVIDER_UNAVAILABLE not in page
    refund = _assert_one_refund_everywhere(bo_app, stripe_sandbox, paid)
    assert refund.id == waiting.id and refund.submit_attempts == 2
    # A lost answer: "Try again" finds the refund Stripe made (by our row id in its metadata)
    # and links it. A refused call: "Try again" sends the same key once more.
    assert len(refund_calls(stripe_sandbox)) == len(calls) + (0 if fault in ANSWER_LOST else 1)
    rows = audit_rows(bo_app, "refund.")
    assert [row.action for row in rows] == [
        "refund.requested",
        "refund.submit_deferred",
        "refund.submitted",
        "refund.succeeded",
    ]
    assert {(row.actor_id, row.target_id) for row in rows} == {(user.id, paid)}
    deferred = rows[1]
    assert deferred.outcome == "failure"
    assert deferred.details == {
        "refund_id": refund.id,
        "error": AUDITED_REASON[fault],
        "attempt": 1,
    }
    assert rows[3].details["amount_minor"] == PAID_MINOR
    assert_audit_chain_intact(bo_app)


def test_a_fault_when_the_approver_sends_a_large_refund_is_explained_and_finished_once(
    bo_app, stripe_sandbox, make_staff, officer
):
    """Proves: above the dual-control limit the refund reaches Stripe only when a second,
    re-authenticated person approves it; if Stripe then loses every answer (the refund made,
    the SDK's retries replayed and lost too, all under one key) the approver is told it is
    approved but not confirmed; the approver's "Try again" links the refund Stripe already
    made instead of making another. One refund, one row, requester and approver audited."""
    public_id = paid_request(
        bo_app, stripe_sandbox, make_staff("agent").id, amount_minor=LARGE_MINOR
    )
    requester_client, requester = officer
    _page_after(requester_client, _ask_full_refund(requester_client, public_id))
    [waiting] = refunds_in_db(bo_app, public_id)
    assert waiting.status == "pending_approval" and refund_calls(stripe_sandbox) == []

    approver_client = bo_app.test_client()
    approver = make_staff("backoffice", mfa=True)
    login(approver_client, approver)
    assert reauth(approver_client, approver).status_code == 303
    arm_fault(stripe_sandbox, "drop", count=OUTLASTING, path_prefix="/v1/refunds")
    detail = f"/backoffice/refunds/{waiting.id}"
    approve = post_form(approver_client, f"{detail}/approve", {}, page=detail)
    page = _page_after(approver_client, approve)

    assert "Refund approved." in page and PROVIDER_UNAVAILABLE in page and SENT not in page
    [approved] = refunds_in_db(bo_app, public_id)
    assert (approved.status, approved.decided_by_id) == ("requested", approver.id)
    assert len(refund_calls(stripe_sandbox)) == OUTLASTING
    assert len(_refunds_made(stripe_sandbox)) == 1  # Stripe acted; only the answers were lost

    page = _page_after(approver_client, _press_try_again(approver_client, waiting.id))

    assert SENT in page
    [made] = sandbox_refunds(stripe_sandbox)
    [refund] = refunds_in_db(bo_app, public_id)
    assert (refund.status, refund.amount_minor, refund.stripe_refund_id) == (
        "succeeded",
        LARGE_MINOR,
        made["id"],
    )
    assert {call["idempotency_key"] for call in refund_calls(stripe_sandbox)} == {
        refund.idempotency_key
    }
    assert len(refund_calls(stripe_sandbox)) == OUTLASTING  # linked, not asked for again
    rows = audit_rows(bo_app, "refund.")
    assert [(row.action, row.actor_id) for row in rows] == [
        ("refund.requested", requester.id),
        ("refund.approved", approver.id),
        ("refund.submit_deferred", approver.id),
        ("refund.submitted", approver.id),
        ("refund.succeeded", approver.id),
    ]
    assert_audit_chain_intact(bo_app)


@pytest.mark.parametrize("fault", sorted(ANSWER_LOST))
def test_the_form_sent_again_after_a_slow_answer_makes_no_second_refund(
    fault, bo_app, stripe_sandbox, paid, officer
):
    """Proves, per fault that lets Stripe make the refund and loses every answer: the staff
    member, told the refund is not confirmed, sends the same form again (back, then Refund):
    no second row and no new call to Stripe; they land on the first refund with a plain
    "already requested" message (not "nothing is left to refund"), and its "Try again" links
    the refund Stripe made. One refund at Stripe, one row, one "refund.requested"."""
    client, user = officer
    arm_fault(stripe_sandbox, fault, count=OUTLASTING, path_prefix="/v1/refunds")
    form = refund_form(client, paid)
    first = _send(client, paid, form)
    assert PROVIDER_UNAVAILABLE in _page_after(client, first)
    calls = len(refund_calls(stripe_sandbox))
    _clear_faults(stripe_sandbox)  # were the form to reach Stripe again, it would be answered

    post_form_again = _send(client, paid, form)

    page = _page_after(client, post_form_again)
    assert post_form_again.headers["Location"] == first.headers["Location"]
    assert "This refund was already requested" in page and "Try again" in page
    assert "Nothing is left to refund" not in page
    assert len(refund_calls(stripe_sandbox)) == calls  # the second submission sent nothing
    [waiting] = refunds_in_db(bo_app, paid)
    assert waiting.status == "requested" and waiting.form_key == form["form_key"]

    page = _page_after(client, _press_try_again(client, waiting.id))

    assert SENT in page
    refund = _assert_one_refund_everywhere(bo_app, stripe_sandbox, paid)
    assert refund.id == waiting.id
    rows = audit_rows(bo_app, "refund.")
    assert [row.action for row in rows] == [
        "refund.requested",
        "refund.submit_deferred",
        "refund.submitted",
        "refund.succeeded",
    ]
    assert {row.actor_id for row in rows} == {user.id}
    assert_audit_chain_intact(bo_app)
