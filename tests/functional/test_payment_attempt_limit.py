"""The failed-attempt limit cannot be bypassed (PAYMENT_MAX_ATTEMPTS, portal/payments/sync.py).

Whoever has the payment page has its client secret and Stripe's publishable key, and can send
confirms straight to Stripe, as fast as they like, without the page ever polling Postern.
Every failed charge is still counted, once, by its id, from the intent's charges listed again
from Stripe whenever Postern hears of the intent (a status poll, a webhook); the intent is
then canceled, so from that moment Stripe itself refuses the next card, however good.

Until Postern hears, nothing at Stripe stops a good card: declines sent straight to Stripe,
then a good card, all before any poll or webhook, and the card is charged (only manual capture
could prevent it). That payment is recorded as paid, since the money was taken, and flagged
for review with a ``payment.succeeded_over_limit`` audit row (docs/payments.md).
"""

from __future__ import annotations

import random
import re

import pytest
import requests
from sqlalchemy import select

from tests.support.capture import audit_actions
from tests.support.card_numbers import shows_card_digits
from tests.support.logs import logged_text
from tests.support.payments import (
    customer_at_payment,
    events_for,
    load_payment,
    received,
    sandbox_settings,
    stripe_api,
)

#: Eight different ways for a card to fail, each its own charge.
DECLINES = [
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
    "pm_card_radarBlock",
    "pm_card_chargeCustomerFail",
    "pm_card_chargeDeclinedProcessingError",
    "pm_card_chargeDeclinedLostCard",
]


class PageHolder:
    """Someone holding the payment page: only what the page itself hands to the browser."""

    def __init__(self, sandbox, html: str):
        self.sandbox = sandbox
        self.client_secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
        self.publishable_key = re.search(r'data-publishable-key="([^"]+)"', html).group(1)
        self.intent_id = self.client_secret.split("_secret_")[0]

    def confirm(self, payment_method: str) -> dict:
        """A confirm sent straight to Stripe's API, as Stripe.js (or a script) sends it."""
        answer = requests.post(
            f"{self.sandbox.url}/v1/payment_intents/{self.intent_id}/confirm",
            data={
                "key": self.publishable_key,
                "client_secret": self.client_secret,
                "payment_method": payment_method,
            },
            timeout=5,
        )
        return answer.json()


def holder_of(customer, sandbox) -> PageHolder:
    page = customer.client.get(customer.pay_path)
    assert page.status_code == 200
    return PageHolder(sandbox, page.get_data(as_text=True))


def failure_audits(app, public_id: str) -> list[dict]:
    """The details of each ``payment.failed`` audit row about ``public_id``, in order."""
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.details)
            .where(AuditEvent.target_id == public_id, AuditEvent.action == "payment.failed")
            .order_by(AuditEvent.seq)
        ).scalars()
        return [dict(details) for details in rows]


def failed_charges(sandbox, intent_id: str) -> list[dict]:
    listed = stripe_api(sandbox, "GET", f"/v1/charges?payment_intent={intent_id}&limit=100")
    return [charge for charge in listed["data"] if charge["status"] == "failed"]


def attempt_rows(app, public_id: str) -> list[tuple[str, str, str | None]]:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment, PaymentAttempt

    with app.app_context():
        rows = db.session.execute(
            select(PaymentAttempt.provider_ref, PaymentAttempt.outcome, PaymentAttempt.decline_code)
            .join(Payment, Payment.id == PaymentAttempt.payment_id)
            .join(CaptureRequest, CaptureRequest.id == Payment.capture_request_id)
            .where(CaptureRequest.public_id == public_id)
        ).all()
        db.session.remove()
        return [tuple(row) for row in rows]


def record_evidence(name: str, **facts) -> None:
    """What a run proved, kept beside the run's other artifacts for a reviewer to read."""
    import json

    from tests.support.artifacts import ARTIFACTS

    folder = ARTIFACTS / "attempt_limit"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")


def assert_stopped_for_good(app, customer, holder: PageHolder, *, failed: int) -> dict:
    """The payment is stopped after ``failed`` counted attempts, and Stripe refuses a good card.
    Returns what was seen, as evidence."""
    request, payment = load_payment(app, customer.public_id)
    assert payment.failed_attempts == failed
    assert (payment.status, payment.cancellation_reason) == ("canceled", "too_many_attempts")
    assert (request.status, request.status_reason) == ("failed", "too_many_attempts")
    intent = stripe_api(holder.sandbox, "GET", f"/v1/payment_intents/{holder.intent_id}")
    assert (intent["status"], intent["cancellation_reason"]) == ("canceled", "abandoned")

    good = holder.confirm("pm_card_visa")

    assert good["error"]["code"] == "payment_intent_unexpected_state"
    intent = stripe_api(holder.sandbox, "GET", f"/v1/payment_intents/{holder.intent_id}")
    assert intent["status"] == "canceled" and intent["amount_received"] == 0
    # Every charge the intent ever made failed: no money was taken.
    listed = stripe_api(holder.sandbox, "GET", f"/v1/charges?payment_intent={holder.intent_id}")
    assert {charge["status"] for charge in listed["data"]} == {"failed"}
    # The customer's page says it has stopped, in plain words.
    page = customer.client.get(customer.pay_path)
    assert page.status_code == 410
    assert "stopped it for your security" in page.get_data(as_text=True)
    return {
        "failed_attempts": payment.failed_attempts,
        "payment_status": payment.status,
        "request_status": f"{request.status} ({request.status_reason})",
        "intent_status_at_stripe": intent["status"],
        "charges_at_stripe": [charge["status"] for charge in listed["data"]],
        "good_card_answer": good["error"]["code"],
        "customer_page": page.status_code,
    }


def test_eight_rapid_declines_sent_straight_to_stripe_are_all_counted(
    pay_app, customer, stripe_sandbox
):
    holder = holder_of(customer, stripe_sandbox)

    for payment_method in DECLINES:  # as fast as one client can, Postern never asked
        assert holder.confirm(payment_method)["error"]["type"] == "card_error"
    assert load_payment(pay_app, customer.public_id)[1].failed_attempts == 0
    assert len(failed_charges(stripe_sandbox, holder.intent_id)) == 8

    # One status poll (the page's, or anyone's) is enough for Postern to learn all eight.
    status = customer.client.get(customer.pay_path + "/status").get_json()

    assert status["state"] == "failed"
    seen = assert_stopped_for_good(pay_app, customer, holder, failed=8)
    record_evidence("eight_direct_declines_then_one_poll", declines_sent=8, **seen)
    charges = {charge["id"] for charge in failed_charges(stripe_sandbox, holder.intent_id)}
    rows = attempt_rows(pay_app, customer.public_id)
    assert {ref for ref, _, _ in rows} == charges and len(rows) == 8
    assert {outcome for _, outcome, _ in rows} == {"failed"}
    assert {"insufficient_funds", "expired_card", "lost_card"} <= {code for _, _, code in rows}
    # Each attempt audited once, numbered in order, then the stop.
    failed = failure_audits(pay_app, customer.public_id)
    assert [details["attempt"] for details in failed] == list(range(1, 9))
    assert {details["charge"] for details in failed} == charges
    actions = audit_actions(pay_app, customer.public_id)
    assert actions[-2:] == ["payment.canceled", "capture.failed"]
    # Asking again changes nothing: each charge was counted once.
    assert customer.client.get(customer.pay_path + "/status").get_json()["state"] == "failed"
    assert load_payment(pay_app, customer.public_id)[1].failed_attempts == 8
    assert audit_actions(pay_app, customer.public_id) == actions


def test_the_limit_stops_the_payment_before_more_confirms_arrive(pay_app, customer, stripe_sandbox):
    """Declines up to the limit, each noticed by a poll: the limit-th one stops the payment."""
    holder = holder_of(customer, stripe_sandbox)
    limit = pay_app.config["PAYMENT_MAX_ATTEMPTS"]

    for number, payment_method in enumerate(DECLINES[:limit], start=1):
        holder.confirm(payment_method)
        status = customer.client.get(customer.pay_path + "/status").get_json()
        if number < limit:
            assert (status["state"], status["attempts_left"]) == ("ready", limit - number)

    assert status["state"] == "failed"
    assert_stopped_for_good(pay_app, customer, holder, failed=limit)


def _failure_events(sandbox, intent_id: str) -> list[dict]:
    wanted = ("charge.failed", "payment_intent.payment_failed")
    return [event for event in events_for(sandbox, intent_id) if event["type"] in wanted]


def test_declines_learned_from_webhooks_out_of_order_are_counted_once(
    app_factory, stripe_sandbox, make_staff
):
    """Only webhooks tell Postern (the page is never polled); they arrive late, out of order
    and twice. The count is always the number of failed charges so far, never more."""
    app = app_factory(**sandbox_settings(stripe_sandbox, PAYMENT_MAX_ATTEMPTS=8))
    customer = customer_at_payment(app, make_staff("agent").id)
    holder = holder_of(customer, stripe_sandbox)
    webhook_sender = app.test_client()
    shuffle = random.Random(13).shuffle

    for payment_method in DECLINES[:3]:
        holder.confirm(payment_method)
    first_batch = _failure_events(stripe_sandbox, holder.intent_id)
    assert [event["type"] for event in first_batch].count("charge.failed") == 3
    late = first_batch[0]  # the first decline's charge.failed, held back
    newest_first = list(reversed(first_batch[1:]))
    for event in newest_first:
        assert received(webhook_sender, app, event) == "applied"
    assert load_payment(app, customer.public_id)[1].failed_attempts == 3

    for payment_method in DECLINES[3:7]:
        holder.confirm(payment_method)
    second_batch = [
        event
        for event in _failure_events(stripe_sandbox, holder.intent_id)
        if event["id"] not in {seen["id"] for seen in first_batch}
    ]
    shuffle(second_batch)
    for event in [*second_batch, late]:  # the oldest event last of all
        assert received(webhook_sender, app, event) == "applied"
    # Stripe retries a delivery it thinks failed: the same events again change nothing.
    for event in second_batch[:3]:
        assert received(webhook_sender, app, event) == "duplicate"
    request, payment = load_payment(app, customer.public_id)
    assert payment.failed_attempts == 7 and payment.status == "requires_payment_method"
    assert request.status != "failed"
    assert len(attempt_rows(app, customer.public_id)) == 7

    holder.confirm(DECLINES[7])  # the eighth: the limit
    eighth = [
        event
        for event in _failure_events(stripe_sandbox, holder.intent_id)
        if event["type"] == "charge.failed"
    ][-1]
    assert received(webhook_sender, app, eighth) == "applied"

    seen = assert_stopped_for_good(app, customer, holder, failed=8)
    record_evidence("eight_declines_webhooks_out_of_order", declines_sent=8, **seen)
    failed = failure_audits(app, customer.public_id)
    assert [details["attempt"] for details in failed] == list(range(1, 9))


@pytest.mark.parametrize("limit", [2])
def test_a_failed_bank_check_counts_by_its_payment_method_once(
    app_factory, stripe_sandbox, make_staff, limit
):
    """A failed 3-D Secure check makes no charge: it is counted from the intent's last error,
    by its payment method, once however often it is read; a decline after it counts too."""
    from tests.support.payments import answer_challenge

    app = app_factory(**sandbox_settings(stripe_sandbox, PAYMENT_MAX_ATTEMPTS=limit))
    customer = customer_at_payment(app, make_staff("agent").id)
    holder = holder_of(customer, stripe_sandbox)

    holder.confirm("pm_card_authenticationRequired")
    answer_challenge(stripe_sandbox, holder.intent_id, complete=False)
    for _ in range(3):
        status = customer.client.get(customer.pay_path + "/status").get_json()
    assert (status["state"], status["attempts_left"]) == ("ready", 1)
    _, payment = load_payment(app, customer.public_id)
    assert (payment.failed_attempts, payment.three_d_secure) == (1, "failed")
    assert [ref[:3] for ref, _, _ in attempt_rows(app, customer.public_id)] == ["pm:"]

    holder.confirm("pm_card_chargeDeclined")
    assert customer.client.get(customer.pay_path + "/status").get_json()["state"] == "failed"
    assert_stopped_for_good(app, customer, holder, failed=2)


def test_concurrent_readers_count_each_decline_once(pay_app, customer, stripe_sandbox):
    """The page's poll, a webhook worker and reconcile may all learn of the same burst at the
    same moment: every decline is counted once, numbered once, and the intent canceled."""
    import threading

    from portal.audit import SYSTEM
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.payments import service
    from portal.payments.gateway import StripeGateway

    holder = holder_of(customer, stripe_sandbox)
    for payment_method in DECLINES:
        holder.confirm(payment_method)
    readers = 4
    start, errors = threading.Barrier(readers), []

    def read_from_stripe():
        try:
            with pay_app.app_context():
                request = db.session.execute(
                    select(CaptureRequest).where(CaptureRequest.public_id == customer.public_id)
                ).scalar_one()
                start.wait(timeout=10)
                service.current_view(request, gateway=StripeGateway.for_app(), actor=SYSTEM)
                db.session.remove()
        except Exception as problem:  # noqa: BLE001 - reported by the assertion below
            errors.append(problem)

    threads = [threading.Thread(target=read_from_stripe) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert_stopped_for_good(pay_app, customer, holder, failed=8)
    assert [details["attempt"] for details in failure_audits(pay_app, customer.public_id)] == (
        list(range(1, 9))
    )
    assert audit_actions(pay_app, customer.public_id).count("payment.canceled") == 1


def test_a_burst_of_declines_learned_from_shuffled_webhooks_is_stopped(
    pay_app, customer, stripe_sandbox
):
    """Eight declines sent straight to Stripe, then every event about them delivered shuffled
    (and some twice) to the webhook endpoint, the page never polled: the first event handled
    counts all eight and stops the payment; the rest change nothing."""
    holder = holder_of(customer, stripe_sandbox)
    for payment_method in DECLINES:
        holder.confirm(payment_method)
    events = _failure_events(stripe_sandbox, holder.intent_id)
    assert [event["type"] for event in events].count("charge.failed") == 8
    random.Random(8).shuffle(events)
    webhook_sender = pay_app.test_client()

    outcomes = [received(webhook_sender, pay_app, event) for event in [*events, *events[:4]]]

    assert outcomes == ["applied"] * len(events) + ["duplicate"] * 4
    seen = assert_stopped_for_good(pay_app, customer, holder, failed=8)
    record_evidence("eight_direct_declines_then_shuffled_webhooks", declines_sent=8, **seen)
    failed = failure_audits(pay_app, customer.public_id)
    assert [details["attempt"] for details in failed] == list(range(1, 9))


def _over_limit_audits(app, public_id: str) -> list[tuple[str, dict]]:
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.outcome, AuditEvent.details).where(
                AuditEvent.target_id == public_id,
                AuditEvent.action == "payment.succeeded_over_limit",
            )
        ).all()
        return [(outcome, dict(details)) for outcome, details in rows]


@pytest.mark.parametrize("heard_by", ["poll", "webhook"])
def test_a_good_card_before_postern_hears_of_eight_declines_is_paid_and_flagged(
    pay_app, customer, stripe_sandbox, caplog, heard_by
):
    """The window the limit cannot close: eight declines sent straight to Stripe, then a good
    card, before any poll or webhook. Stripe charges the card; Postern, hearing of it once,
    counts all eight declines, records the payment as paid (the money was taken) and flags it
    for review, without a word of personal data in the log."""
    holder = holder_of(customer, stripe_sandbox)
    limit = pay_app.config["PAYMENT_MAX_ATTEMPTS"]
    assert limit < len(DECLINES)
    for payment_method in DECLINES:
        assert holder.confirm(payment_method)["error"]["type"] == "card_error"

    good = holder.confirm("pm_card_visa")

    assert good["status"] == "succeeded"  # Stripe was never told to stop: nothing stops it
    assert load_payment(pay_app, customer.public_id)[1].failed_attempts == 0
    caplog.set_level("WARNING", logger="postern.payments")
    if heard_by == "poll":
        status = customer.client.get(customer.pay_path + "/status").get_json()
        assert status["state"] == "succeeded"
    else:
        [succeeded] = [
            event
            for event in events_for(stripe_sandbox, holder.intent_id)
            if event["type"] == "payment_intent.succeeded"
        ]
        assert received(pay_app.test_client(), pay_app, succeeded) == "applied"

    request, payment = load_payment(pay_app, customer.public_id)
    assert (payment.status, payment.failed_attempts) == ("succeeded", 8)
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert request.status == "succeeded"
    [(outcome, details)] = _over_limit_audits(pay_app, customer.public_id)
    assert outcome == "failure"
    assert details["payment_intent"] == holder.intent_id
    assert (details["failed_attempts"], details["limit"]) == (8, limit)
    assert details["action_needed"] == "review"
    actions = audit_actions(pay_app, customer.public_id)
    assert actions.count("payment.failed") == 8
    assert actions.index("payment.succeeded") < actions.index("payment.succeeded_over_limit")
    assert "payment.canceled" not in actions
    [warning] = [r for r in caplog.records if "attempts reached the limit" in r.getMessage()]
    assert (warning.payment_intent, warning.failed_attempts, warning.limit) == (
        holder.intent_id,
        8,
        limit,
    )
    logged = logged_text([warning])
    assert not shows_card_digits(logged)
    assert "SW1A" not in logged and customer.public_id not in logged
    record_evidence(
        f"good_card_before_postern_heard_{heard_by}",
        declines_sent=8,
        failed_attempts=payment.failed_attempts,
        payment_status=payment.status,
        flagged=details,
    )
    # Hearing of it again flags nothing more.
    customer.client.get(customer.pay_path + "/status")
    assert len(_over_limit_audits(pay_app, customer.public_id)) == 1
