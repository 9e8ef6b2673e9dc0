"""Refunds in the back office, against the Stripe sandbox: re-authentication, full and
partial refunds, over-refunds refused before Stripe is asked, dual control, outages and
retries that never refund twice, and refund status following Stripe's webhooks."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from tests.support.backoffice_write import (
    ask_refund,
    audit_rows,
    paid_request,
    reauth,
    reauthenticated_officer,
    refund_calls,
    refund_form,
    refund_url,
    refunds_in_db,
    sandbox_refunds,
)
from tests.support.payments import arm_fault, received, sandbox_settings, stripe_api
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, current_totp, login, post_form

REFUND = {"scope": "full", "amount": "", "reason_code": "requested_by_customer", "note": "Asked"}
PARTIAL = {**REFUND, "scope": "partial", "amount": "5.00"}
SENT_TWICE = "This refund was already requested: the form was sent twice"


@pytest.fixture
def bo_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


@pytest.fixture
def officer(bo_app, make_staff):
    """A back-office user, signed in (password + TOTP) and re-authenticated."""
    return reauthenticated_officer(bo_app, make_staff)


def ask(client, public_id, **fields):
    """Open the refund page and send its form once, filled in with ``fields``."""
    return ask_refund(client, public_id, {**REFUND, **fields})


def test_a_full_refund_goes_to_stripe_once_with_our_key(bo_app, stripe_sandbox, agent, officer):
    client, user = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)

    response = ask(client, public_id)

    assert response.status_code == 303
    [refund] = refunds_in_db(bo_app, public_id)
    assert response.headers["Location"] == f"/backoffice/refunds/{refund.id}"
    assert (refund.status, refund.amount_minor, refund.requested_by_id) == (
        "succeeded",
        1250,
        user.id,
    )
    assert refund.stripe_refund_id.startswith("re_") and not refund.requires_approval
    [call] = refund_calls(stripe_sandbox)
    assert call["idempotency_key"] == f"postern-refund-{refund.id}" and call["status"] == 200
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Refunded" in page and "£12.50" in page
    actions = [row.action for row in audit_rows(bo_app, "refund.")]
    assert actions == ["refund.requested", "refund.submitted", "refund.succeeded"]
    assert all(row.target_id == public_id for row in audit_rows(bo_app, "refund."))


def test_partial_refunds_until_nothing_is_left(bo_app, stripe_sandbox, agent, officer):
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)

    assert ask(client, public_id, scope="partial", amount="5.00").status_code == 303
    page = client.get(refund_url(public_id)).get_data(as_text=True)
    assert "£7.50" in page  # left to refund
    assert ask(client, public_id, scope="full").status_code == 303

    assert [(r.amount_minor, r.status) for r in refunds_in_db(bo_app, public_id)] == [
        (500, "succeeded"),
        (750, "succeeded"),
    ]
    assert "Nothing is left to refund" in client.get(refund_url(public_id)).get_data(as_text=True)
    again = ask(client, public_id, scope="partial", amount="0.01")
    assert again.status_code == 409 and "Nothing is left to refund" in again.get_data(as_text=True)
    assert len(refund_calls(stripe_sandbox)) == 2


def test_everything_chosen_with_a_smaller_amount_typed_is_asked_about_not_guessed(
    bo_app, stripe_sandbox, agent, officer
):
    """ "Everything that is left" with £5.00 typed: the two answers disagree and a refund
    cannot be undone, so nothing is refunded and the clerk is asked to choose. Typing the very
    amount that is left agrees with "everything" and goes through."""
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)

    response = ask(client, public_id, scope="full", amount="5.00")

    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "You chose &#34;Everything that is left&#34; (£12.50) but also typed an amount." in page
    assert refunds_in_db(bo_app, public_id) == [] and refund_calls(stripe_sandbox) == []

    empty = ask(client, public_id, scope="partial", amount="")
    assert empty.status_code == 409 and "Enter the amount to refund." in empty.get_data(True)

    agreed = ask(client, public_id, scope="full", amount="12.50")
    assert agreed.status_code == 303
    assert [r.amount_minor for r in refunds_in_db(bo_app, public_id)] == [1250]


def test_an_over_refund_is_refused_plainly_and_never_reaches_stripe(
    bo_app, stripe_sandbox, agent, officer
):
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)

    response = ask(client, public_id, scope="partial", amount="20.00")

    text = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "You can refund at most £12.50" in text and 'role="alert"' in text
    assert refunds_in_db(bo_app, public_id) == []
    assert refund_calls(stripe_sandbox) == []  # the sandbox's own record: nothing was sent


def test_stripe_refusing_an_over_refund_is_the_backstop(bo_app, stripe_sandbox, agent, officer):
    """Money refunded outside Postern (Stripe's dashboard) is unknown to our check; Stripe's
    refusal is mapped to a plain message and the row fails, freeing nothing twice."""
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    from tests.support.payments import load_payment

    intent = load_payment(bo_app, public_id)[1].stripe_payment_intent_id
    stripe_api(stripe_sandbox, "POST", "/v1/refunds", payment_intent=intent, amount=1000)

    response = ask(client, public_id, scope="partial", amount="5.00")

    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "more than what is left to refund" in detail
    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "failed" and refund.stripe_refund_id is None
    assert [row.action for row in audit_rows(bo_app, "refund.")][-1] == "refund.failed"


def test_no_refund_without_a_recent_reauthentication(bo_app, stripe_sandbox, agent, make_staff):
    client = bo_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)

    response = ask(client, public_id)

    assert response.status_code == 303
    assert response.headers["Location"].startswith("/backoffice/reauth?next=")
    assert refunds_in_db(bo_app) == [] and refund_calls(stripe_sandbox) == []
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Confirm it" in page and "confirm it is you" in page

    # A re-authentication older than five minutes no longer counts either.
    assert reauth(client, user).status_code == 303
    with bo_app.app_context():
        from portal.extensions import db
        from portal.models.staff import StaffSession
        from portal.models.types import utcnow

        db.session.execute(
            update(StaffSession).values(reauthenticated_at=utcnow() - timedelta(minutes=6))
        )
        db.session.commit()
    assert ask(client, public_id).headers["Location"].startswith("/backoffice/reauth")
    assert refunds_in_db(bo_app) == []


def test_failed_reauthentication_counts_towards_lockout(bo_app, make_staff):
    client = bo_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)

    wrong = reauth(client, user, password="not the password at all")
    assert wrong.status_code == 401 and "not right" in wrong.get_data(as_text=True)
    wrong_code = post_form(
        client,
        "/backoffice/reauth",
        {"password": DEFAULT_PASSWORD, "code": "000000"},
    )
    assert wrong_code.status_code == 401
    failures = audit_rows(bo_app, "auth.login_failed")
    assert [row.details["factor"] for row in failures] == ["reauth_password", "reauth_totp"]

    bo_app.config["LOGIN_MAX_FAILURES"] = 3
    locked = reauth(client, user, password="still wrong, third time")
    assert locked.status_code == 303 and locked.headers["Location"] == "/login"
    assert client.get("/backoffice/refunds").status_code == 302  # the session ended


def test_reauth_returns_only_to_pages_on_this_site(bo_app, make_staff):
    client = bo_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    page = client.get("/backoffice/reauth?next=//evil.example/x")
    response = client.post(
        "/backoffice/reauth?next=//evil.example/x",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "password": DEFAULT_PASSWORD,
            "code": current_totp(user, offset_steps=1),
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/backoffice/"


def test_above_the_limit_a_second_person_must_approve(
    bo_app, stripe_sandbox, agent, officer, make_staff
):
    requester_client, requester = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id, amount_minor=25000)

    response = ask(requester_client, public_id)  # £250.00 > the £100.00 limit

    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "pending_approval" and refund.requires_approval
    assert refund_calls(stripe_sandbox) == []
    detail = requester_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Waiting for a second person to approve" in detail and "Approve and send" not in detail
    # The requester cannot approve their own refund, even by posting directly.
    own = post_form(
        requester_client,
        f"/backoffice/refunds/{refund.id}/approve",
        {},
        page=f"/backoffice/refunds/{refund.id}",
    )
    assert own.status_code == 303
    assert "someone other than you" in requester_client.get(own.headers["Location"]).get_data(
        as_text=True
    )
    assert refunds_in_db(bo_app)[0].status == "pending_approval"

    approver_client = bo_app.test_client()
    approver = make_staff("backoffice", mfa=True)
    login(approver_client, approver)
    page = f"/backoffice/refunds/{refund.id}"
    first = post_form(approver_client, f"{page}/approve", {}, page=page)
    assert first.headers["Location"].startswith("/backoffice/reauth")  # approval needs it too
    assert reauth(approver_client, approver).status_code == 303
    approved = post_form(approver_client, f"{page}/approve", {}, page=page)

    assert approved.status_code == 303
    [refund] = refunds_in_db(bo_app, public_id)
    assert (refund.status, refund.decided_by_id) == ("succeeded", approver.id)
    [call] = refund_calls(stripe_sandbox)
    assert call["idempotency_key"] == f"postern-refund-{refund.id}"
    rows = {row.action: row for row in audit_rows(bo_app, "refund.")}
    assert rows["refund.requested"].actor_id == requester.id
    assert rows["refund.approved"].actor_id == approver.id
    assert rows["refund.succeeded"].details["amount_minor"] == 25000


def test_the_database_refuses_self_approval(bo_app, stripe_sandbox, agent, officer):
    client, user = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id, amount_minor=25000)
    ask(client, public_id)
    from portal.extensions import db
    from portal.models.refund import Refund

    with bo_app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(update(Refund).values(decided_by_id=user.id, status="requested"))
        db.session.commit()


def test_a_rejected_refund_sends_nothing(bo_app, stripe_sandbox, agent, officer, make_staff):
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id, amount_minor=25000)
    ask(client, public_id)
    [refund] = refunds_in_db(bo_app)
    checker_client = bo_app.test_client()
    checker = make_staff("backoffice", mfa=True)
    login(checker_client, checker)
    page = f"/backoffice/refunds/{refund.id}"

    no_reason = post_form(checker_client, f"{page}/reject", {"note": ""}, page=page)
    assert "Say why you are rejecting it" in checker_client.get(
        no_reason.headers["Location"]
    ).get_data(as_text=True)
    rejected = post_form(
        checker_client, f"{page}/reject", {"note": "No proof of purchase"}, page=page
    )

    assert rejected.status_code == 303
    [refund] = refunds_in_db(bo_app)
    assert (refund.status, refund.decided_by_id) == ("rejected", checker.id)
    assert refund.decision_note == "No proof of purchase"
    assert refund_calls(stripe_sandbox) == []
    assert [r.action for r in audit_rows(bo_app, "refund.")] == [
        "refund.requested",
        "refund.rejected",
    ]
    # Rejected money is free again: a new, smaller refund may be asked for.
    assert ask(client, public_id, scope="partial", amount="50.00").status_code == 303


def test_an_outage_leaves_a_retriable_refund_and_the_retry_never_refunds_twice(
    bo_app, stripe_sandbox, agent, officer
):
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    # Stripe makes the refund, then every answer is lost (the SDK's own retries included).
    arm_fault(stripe_sandbox, "drop", count=3, path_prefix="/v1/refunds")

    response = ask(client, public_id)

    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "requested" and refund.last_error_code == "provider_unavailable"
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "could not be reached" in detail and "Try again" in detail
    assert len(sandbox_refunds(stripe_sandbox)) == 1  # Stripe did act

    retried = post_form(
        client, f"/backoffice/refunds/{refund.id}/retry", {}, page=response.headers["Location"]
    )

    assert retried.status_code == 303
    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "succeeded" and refund.submit_attempts == 2
    assert len(sandbox_refunds(stripe_sandbox)) == 1  # still one: never two refunds
    assert {call["idempotency_key"] for call in refund_calls(stripe_sandbox)} == {
        f"postern-refund-{refund.id}"
    }
    deferred = audit_rows(bo_app, "refund.submit_deferred")
    assert len(deferred) == 1 and deferred[0].outcome == "failure"


def test_a_refused_call_before_stripe_acts_is_retried_with_the_same_key(
    bo_app, stripe_sandbox, agent, officer
):
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    arm_fault(stripe_sandbox, "500", count=3, path_prefix="/v1/refunds")

    ask(client, public_id)
    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "requested" and sandbox_refunds(stripe_sandbox) == []
    post_form(
        client,
        f"/backoffice/refunds/{refund.id}/retry",
        {},
        page=f"/backoffice/refunds/{refund.id}",
    )

    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "succeeded" and len(sandbox_refunds(stripe_sandbox)) == 1
    assert {call["idempotency_key"] for call in refund_calls(stripe_sandbox)} == {
        f"postern-refund-{refund.id}"
    }


def test_refund_status_follows_stripe_webhooks(bo_app, stripe_sandbox, agent, officer):
    """The answer to our call is lost; Stripe's refund.created webhook tells us instead."""
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    arm_fault(stripe_sandbox, "drop", count=3, path_prefix="/v1/refunds")
    ask(client, public_id)
    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "requested"

    events = stripe_api(stripe_sandbox, "GET", "/v1/events?type=refund.created")["data"]
    webhook_client = bo_app.test_client()
    assert received(webhook_client, bo_app, events[0]) == "applied"
    assert received(webhook_client, bo_app, events[0]) == "duplicate"

    [refund] = refunds_in_db(bo_app, public_id)
    assert (
        refund.status == "succeeded"
        and refund.stripe_refund_id == events[0]["data"]["object"]["id"]
    )
    charge_event = stripe_api(stripe_sandbox, "GET", "/v1/events?type=charge.refunded")["data"][0]
    assert received(webhook_client, bo_app, charge_event) == "applied"
    assert [r.action for r in audit_rows(bo_app, "refund.succeeded")] == ["refund.succeeded"]


def test_two_people_refunding_at_once_cannot_exceed_the_payment(
    bo_app, stripe_sandbox, agent, make_staff
):
    public_id = paid_request(bo_app, stripe_sandbox, agent.id, amount_minor=5000)
    people = [make_staff("backoffice", mfa=True) for _ in range(2)]
    from portal.audit import NO_ORIGIN
    from portal.extensions import db
    from portal.models.staff import StaffUser
    from portal.models.types import utcnow
    from portal.refunds import service
    from tests.support.payments import load_payment

    payment_id = load_payment(bo_app, public_id)[1].id
    barrier, outcomes = threading.Barrier(2), []

    def attempt(person):
        with bo_app.app_context():
            user = db.session.get(StaffUser, person.id)
            barrier.wait(timeout=10)
            try:
                service.request_refund(
                    payment_id,
                    amount_minor=3000,
                    reason_code="duplicate",
                    note="Paid twice",
                    requester=user,
                    reauthenticated_at=utcnow(),
                    origin=NO_ORIGIN,
                )
                outcomes.append("ok")
            except service.OverRefund:
                outcomes.append("over")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["ok", "over"]
    assert [r.amount_minor for r in refunds_in_db(bo_app, public_id)] == [3000]


# --- The same form sent twice (a double click, or again after a slow answer) -----------------


def _text_after(client, response) -> str:
    """The page a 303 leads to, as staff read it (flash messages included)."""
    assert response.status_code == 303, response.status_code
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


@pytest.mark.parametrize(("fields", "minor"), [(PARTIAL, 500), (REFUND, 1250)])
def test_a_refund_form_sent_twice_makes_one_refund(
    fields, minor, bo_app, stripe_sandbox, agent, officer
):
    """Proves: the same rendering of the refund form sent twice (partial, and full, where the
    second used to be refused only by the over-refund check) makes one refund row and one
    refund at Stripe, one "refund.requested" in the audit trail; the second answer leads to
    the first refund with a plain message, never an error page."""
    client, user = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    form = refund_form(client, public_id)

    first = ask_refund(client, public_id, fields, form=form)
    second = ask_refund(client, public_id, fields, form=form)

    assert first.status_code == 303 and second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    page = _text_after(client, second)
    assert SENT_TWICE in page and "no second refund was made" in page
    assert "Refunded" in page
    [refund] = refunds_in_db(bo_app, public_id)
    assert (refund.amount_minor, refund.status, refund.form_key) == (
        minor,
        "succeeded",
        form["form_key"],
    )
    assert len(sandbox_refunds(stripe_sandbox)) == 1  # Stripe's own list
    [call] = refund_calls(stripe_sandbox)  # and only one POST /v1/refunds was made
    assert call["idempotency_key"] == f"postern-refund-{refund.id}"
    actions = [row.action for row in audit_rows(bo_app, "refund.")]
    assert actions == ["refund.requested", "refund.submitted", "refund.succeeded"]
    assert audit_rows(bo_app, "refund.requested")[0].actor_id == user.id


def test_a_dual_control_refund_form_sent_twice_waits_once_and_is_sent_once(
    bo_app, stripe_sandbox, agent, officer, make_staff
):
    """Proves: above the dual-control limit, the form sent twice leaves one refund waiting for
    approval (nothing at Stripe); the second person approves that one, and Stripe makes one
    refund. The requester still cannot approve it."""
    client, requester = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id, amount_minor=25000)
    form = refund_form(client, public_id)
    large = {**REFUND, "scope": "partial", "amount": "150.00"}  # > the £100.00 limit

    first = ask_refund(client, public_id, large, form=form)
    second = ask_refund(client, public_id, large, form=form)

    assert second.headers["Location"] == first.headers["Location"]
    page = _text_after(client, second)
    assert SENT_TWICE in page and "Waiting for a second person to approve" in page
    assert "Approve and send" not in page
    [waiting] = refunds_in_db(bo_app, public_id)
    assert (waiting.status, waiting.amount_minor) == ("pending_approval", 15000)
    assert refund_calls(stripe_sandbox) == []
    left = client.get(refund_url(public_id)).get_data(as_text=True)
    assert "£100.00" in left  # £250.00 paid, £150.00 held once, not twice

    approver_client = bo_app.test_client()
    approver = make_staff("backoffice", mfa=True)
    login(approver_client, approver)
    assert reauth(approver_client, approver).status_code == 303
    detail = f"/backoffice/refunds/{waiting.id}"
    approved = post_form(approver_client, f"{detail}/approve", {}, page=detail)

    assert "Refund sent to Stripe" in _text_after(approver_client, approved)
    [refund] = refunds_in_db(bo_app, public_id)
    assert (refund.status, refund.decided_by_id) == ("succeeded", approver.id)
    assert len(sandbox_refunds(stripe_sandbox)) == 1 and len(refund_calls(stripe_sandbox)) == 1
    assert [(r.action, r.actor_id) for r in audit_rows(bo_app, "refund.")][:2] == [
        ("refund.requested", requester.id),
        ("refund.approved", approver.id),
    ]


def test_a_double_click_racing_itself_makes_one_refund(bo_app, stripe_sandbox, agent, officer):
    """Proves: the two requests of a double click arriving together (same session, same form)
    make one refund row and one refund at Stripe, whichever wins: the payment's lock makes the
    second wait and find the first's row (the unique key is the database's backstop). Both
    answers lead to that one refund."""
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    form = refund_form(client, public_id)
    twin = bo_app.test_client()  # the same browser session, a second connection
    twin.set_cookie("postern_session", client.get_cookie("postern_session").value)
    barrier, answers = threading.Barrier(2), []

    def click(browser):
        barrier.wait(timeout=10)
        answers.append(browser.post(refund_url(public_id), data={**PARTIAL, **form}))

    threads = [threading.Thread(target=click, args=(c,)) for c in (client, twin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [303, 303]
    assert len({answer.headers["Location"] for answer in answers}) == 1
    [refund] = refunds_in_db(bo_app, public_id)
    assert (refund.amount_minor, refund.status) == (500, "succeeded")
    assert len(sandbox_refunds(stripe_sandbox)) == 1 and len(refund_calls(stripe_sandbox)) == 1
    assert len(audit_rows(bo_app, "refund.requested")) == 1


_KEY_IN_PAGE = re.compile(r'name="form_key" type="hidden" value="([^"]*)"')


@pytest.mark.parametrize(
    ("sent_key", "words"),
    [
        (None, "arrived without its one-time key"),
        ("", "arrived without its one-time key"),
        ("too-short", "one-time key is not valid"),
        ("k" * 33, "one-time key is not valid"),
        ("spaces are not allowed here", "one-time key is not valid"),
        ('"><script>alert(1)</script>', "one-time key is not valid"),
    ],
)
def test_a_refund_form_without_a_valid_key_is_refused_plainly(
    sent_key, words, bo_app, stripe_sandbox, agent, officer
):
    """Proves: a refund form whose one-time key is missing or not shaped like one is refused
    (400) with a specific message in the page's error summary, nothing is written or sent to
    Stripe, and the page shown again carries a fresh key, so pressing Refund on it works."""
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    form = refund_form(client, public_id)
    data = {**PARTIAL, "csrf_token": form["csrf_token"]}
    if sent_key is not None:
        data["form_key"] = sent_key

    refused = client.post(refund_url(public_id), data=data)

    text = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 400
    assert 'role="alert"' in text and words in text and "nothing was refunded" in text
    assert "<script>alert(1)</script>" not in refused.get_data(as_text=True)
    assert refunds_in_db(bo_app) == [] and refund_calls(stripe_sandbox) == []
    [fresh] = _KEY_IN_PAGE.findall(refused.get_data(as_text=True))
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", fresh) and fresh != sent_key

    again = client.post(refund_url(public_id), data={**data, "form_key": fresh})

    assert again.status_code == 303
    [refund] = refunds_in_db(bo_app, public_id)
    assert (refund.amount_minor, refund.form_key) == (500, fresh)


def test_a_form_key_cannot_be_reused_for_another_payment(bo_app, stripe_sandbox, agent, officer):
    """Proves: a form's key belongs to the payment whose page made it: sent for another
    payment, it is refused (409) and nothing is refunded there, not taken as a duplicate."""
    client, _ = officer
    first_id = paid_request(bo_app, stripe_sandbox, agent.id)
    other_id = paid_request(bo_app, stripe_sandbox, agent.id)
    form = refund_form(client, first_id)
    assert ask_refund(client, first_id, PARTIAL, form=form).status_code == 303

    moved = ask_refund(client, other_id, PARTIAL, form=form)

    assert moved.status_code == 409
    assert "already used for another payment" in html.unescape(moved.get_data(as_text=True))
    assert refunds_in_db(bo_app, other_id) == []
    assert len(refunds_in_db(bo_app, first_id)) == 1 and len(refund_calls(stripe_sandbox)) == 1


def test_a_refund_awaiting_approval_is_never_shown_as_on_its_way(
    bo_app, stripe_sandbox, agent, officer
):
    """It may yet be rejected: the detail and the refund page show it as awaiting approval,
    while what is left to refund holds it back."""
    client, _ = officer
    public_id = paid_request(bo_app, stripe_sandbox, agent.id, amount_minor=25000)
    ask(client, public_id, scope="partial", amount="150.00")  # above the £100.00 limit
    [refund] = refunds_in_db(bo_app, public_id)
    assert refund.status == "pending_approval"

    detail = client.get(f"/backoffice/transactions/{public_id}").get_data(as_text=True)
    assert 'data-testid="remaining-amount">£100.00</dd>' in detail
    assert "on its way" not in detail
    assert re.search(r'data-testid="refund-awaiting-approval">£150.00 ', detail)
    page = client.get(refund_url(public_id)).get_data(as_text=True)
    assert 'data-testid="on-the-way">£0.00</dd>' in page
    assert re.search(r'data-testid="awaiting-approval">£150.00 ', page)
    assert 'data-testid="remaining">£100.00</dd>' in page
