"""POST /webhooks/stripe and the webhook worker: real events from the Stripe sandbox, signed
as Stripe signs them.

Events are either delivered by the sandbox itself to a live portal (with the worker running in
a thread), or fetched from the sandbox's /v1/events and POSTed by the test, which then runs the
worker over the queue (so it can repeat, reorder, age or tamper with them, as a network or an
attacker might).
"""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import func, select

from tests.support.capture import audit_actions
from tests.support.card_numbers import shows_number
from tests.support.logs import logged_text
from tests.support.payments import (
    WEBHOOK_SECRET,
    answer_challenge,
    arm_fault,
    confirm_in_browser,
    deliver,
    event_of_type,
    handle_queued_webhooks,
    live_portal,
    load_payment,
    opened_pay_page,
    outcome_of,
    received,
    signed,
    stripe_api,
    wait_for,
    webhook_worker,
)


@pytest.fixture
def customer(customer):
    """Here the customer has opened the payment page, so the PaymentIntent exists."""
    return opened_pay_page(customer)


@pytest.fixture
def intent_id(pay_app, customer):
    return load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id


def processed(app) -> list[tuple[str, str]]:
    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent

    with app.app_context():
        rows = db.session.execute(
            select(ProcessedWebhookEvent.stripe_event_id, ProcessedWebhookEvent.outcome).order_by(
                ProcessedWebhookEvent.id
            )
        ).all()
        return [tuple(row) for row in rows]


def intent_fetches(sandbox, intent_id: str) -> int:
    return len(sandbox.requests("GET", f"/v1/payment_intents/{intent_id}"))


def test_the_sandbox_delivers_and_the_payment_completes(
    pay_app, customer, intent_id, stripe_sandbox
):
    with live_portal(pay_app) as base_url, webhook_worker(pay_app):
        stripe_sandbox.set_webhook(f"{base_url}/webhooks/stripe", WEBHOOK_SECRET)
        confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
        wait_for(lambda: load_payment(pay_app, customer.public_id)[1].status == "succeeded")
        wait_for(lambda: stripe_sandbox.sandbox.webhooks.pending() == 0)
        stripe_sandbox.set_webhook(None)

    request, payment = load_payment(pay_app, customer.public_id)
    assert request.status == "succeeded"
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    deliveries = stripe_sandbox.webhook_deliveries()
    assert deliveries and all(item["status"] == 200 for item in deliveries)
    assert audit_actions(pay_app, customer.public_id).count("payment.succeeded") == 1


def test_a_duplicate_is_acknowledged_and_nothing_else_happens(
    pay_app, customer, intent_id, stripe_sandbox
):
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    assert received(pay_app.test_client(), pay_app, event) == "applied"
    fetches, audit_rows = intent_fetches(stripe_sandbox, intent_id), audit_actions(pay_app)

    again = deliver(pay_app.test_client(), event)
    handle_queued_webhooks(pay_app)

    assert again.status_code == 200 and again.get_json()["outcome"] == "duplicate"
    assert intent_fetches(stripe_sandbox, intent_id) == fetches  # not even a look at Stripe
    assert audit_actions(pay_app) == audit_rows
    assert processed(pay_app) == [(event["id"], "applied")]
    assert load_payment(pay_app, customer.public_id)[0].status == "succeeded"


def test_events_about_a_finished_payment_are_acknowledged_without_asking_stripe(
    pay_app, customer, intent_id, stripe_sandbox
):
    """Proves: once our payment is final (here: succeeded), later events about it are
    settled as "applied" without a call to Stripe, since nothing Stripe could say would
    change a finished payment; and nothing else happens."""
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    succeeded = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    client = pay_app.test_client()
    assert received(client, pay_app, succeeded) == "applied"
    fetches, audit_rows = intent_fetches(stripe_sandbox, intent_id), audit_actions(pay_app)
    later = [
        event_of_type(stripe_sandbox, intent_id, "charge.succeeded"),
        event_of_type(stripe_sandbox, intent_id, "payment_intent.created"),
    ]

    outcomes = [received(client, pay_app, event) for event in later]

    assert outcomes == ["applied"] * 2
    assert intent_fetches(stripe_sandbox, intent_id) == fetches
    assert audit_actions(pay_app) == audit_rows
    assert processed(pay_app) == [(e["id"], "applied") for e in [succeeded, *later]]
    request, payment = load_payment(pay_app, customer.public_id)
    assert (request.status, payment.status) == ("succeeded", "succeeded")


def test_an_event_about_a_payment_still_under_way_asks_stripe(
    pay_app, customer, intent_id, stripe_sandbox
):
    """Proves: the shortcut above is only for final payments; an event about a payment that
    is not final is still checked against Stripe's current state (here: the decline)."""
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    fetches = intent_fetches(stripe_sandbox, intent_id)

    outcome = received(
        pay_app.test_client(), pay_app, event_of_type(stripe_sandbox, intent_id, "charge.failed")
    )

    assert outcome == "applied"
    assert intent_fetches(stripe_sandbox, intent_id) == fetches + 1
    assert load_payment(pay_app, customer.public_id)[1].failed_attempts == 1


def test_a_late_failure_never_undoes_a_success(pay_app, customer, intent_id, stripe_sandbox):
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    failed = event_of_type(stripe_sandbox, intent_id, "payment_intent.payment_failed")
    succeeded = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    client = pay_app.test_client()

    assert received(client, pay_app, succeeded) == "applied"
    # The decline before the success is learned with it, from the intent's charges.
    actions = audit_actions(pay_app, customer.public_id)
    assert actions.count("payment.failed") == 1
    assert actions.index("payment.failed") < actions.index("payment.succeeded")
    assert received(client, pay_app, failed) == "applied"

    request, payment = load_payment(pay_app, customer.public_id)
    assert payment.status == "succeeded" and request.status == "succeeded"
    # The late failure event itself changes nothing and audits nothing.
    assert audit_actions(pay_app, customer.public_id) == actions


def test_a_late_requires_action_never_undoes_a_success(
    pay_app, customer, intent_id, stripe_sandbox
):
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_authenticationRequired")
    answer_challenge(stripe_sandbox, intent_id, complete=True)
    requires_action = event_of_type(stripe_sandbox, intent_id, "payment_intent.requires_action")
    succeeded = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    client = pay_app.test_client()

    received(client, pay_app, succeeded)
    received(client, pay_app, requires_action)
    received(client, pay_app, event_of_type(stripe_sandbox, intent_id, "payment_intent.created"))

    request, payment = load_payment(pay_app, customer.public_id)
    assert (payment.status, request.status) == ("succeeded", "succeeded")
    assert payment.three_d_secure == "authenticated"
    actions = audit_actions(pay_app, customer.public_id)
    assert actions.count("capture.in_progress") == 1 and actions.count("capture.succeeded") == 1


def test_a_failed_attempt_is_counted_once_however_often_it_is_reported(
    pay_app, customer, intent_id, stripe_sandbox
):
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclinedExpiredCard")
    client = pay_app.test_client()
    for event_type in ("charge.failed", "payment_intent.payment_failed"):
        received(client, pay_app, event_of_type(stripe_sandbox, intent_id, event_type))
    customer.client.get(customer.pay_path + "/status")

    _, payment = load_payment(pay_app, customer.public_id)
    assert payment.failed_attempts == 1 and payment.failure_code == "expired_card"
    assert audit_actions(pay_app, customer.public_id).count("payment.failed") == 1


def test_a_bad_signature_is_refused(pay_app, customer, intent_id, stripe_sandbox):
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    client = pay_app.test_client()

    wrong_secret = deliver(client, event, secret="whsec_someone_else")
    body, headers = signed(event)
    tampered = client.post(
        "/webhooks/stripe", data=body.replace(b'"succeeded"', b'"canceled"'), headers=headers
    )
    unsigned = client.post("/webhooks/stripe", data=body, content_type="application/json")

    for response in (wrong_secret, tampered, unsigned):
        assert response.status_code == 400
        assert response.get_json() == {"error": "invalid signature"}
    assert processed(pay_app) == []
    assert load_payment(pay_app, customer.public_id)[0].status == "verified"


def test_an_old_timestamp_is_refused(pay_app, customer, intent_id, stripe_sandbox):
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    client = pay_app.test_client()

    stale = deliver(client, event, timestamp=int(time.time()) - 301)
    assert stale.status_code == 400 and processed(pay_app) == []

    assert received(client, pay_app, event, timestamp=int(time.time()) - 240) == "applied"


def test_an_unknown_event_type_is_acknowledged_and_ignored(pay_app, stripe_sandbox):
    event = {
        "id": "evt_unknown_type_1",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "type": "customer.created",
        "data": {"object": {"id": "cus_123", "object": "customer"}},
    }
    client = pay_app.test_client()

    first = deliver(client, event)
    second = deliver(client, event)
    handle_queued_webhooks(pay_app)

    assert first.status_code == 200 and first.get_json()["outcome"] == "ignored"
    assert second.get_json()["outcome"] == "duplicate"
    assert processed(pay_app) == [("evt_unknown_type_1", "ignored")]
    assert stripe_sandbox.requests() == []


def test_an_event_for_someone_elses_payment_is_ignored_without_personal_data(
    pay_app, stripe_sandbox, caplog
):
    intent = stripe_api(
        stripe_sandbox,
        "POST",
        "/v1/payment_intents",
        amount="4321",
        currency="gbp",
        **{"metadata[customer_name]": "Jane Example"},
    )
    confirm_in_browser(stripe_sandbox, intent["id"], "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent["id"], "payment_intent.succeeded")
    caplog.set_level(logging.INFO, logger="postern")

    assert received(pay_app.test_client(), pay_app, event) == "not_ours"
    assert processed(pay_app) == [(event["id"], "not_ours")]
    from portal.extensions import db
    from portal.models.payment import Payment

    with pay_app.app_context():
        assert db.session.execute(select(func.count()).select_from(Payment)).scalar_one() == 0
    notes = [
        r for r in caplog.records if r.getMessage() == "webhook for a payment that is not ours"
    ]
    assert len(notes) == 1
    logged = logged_text(notes)
    assert "Jane" not in logged and not shows_number(logged, "4321") and "secret" not in logged


def test_an_event_is_queued_and_answered_without_waiting_for_stripe(
    pay_app, customer, intent_id, stripe_sandbox
):
    """Proves: the endpoint answers Stripe after one INSERT: the event is queued, Stripe's
    API is not called in the request, and nothing about the payment changes until the worker
    handles it."""
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    fetches = intent_fetches(stripe_sandbox, intent_id)

    answer = deliver(pay_app.test_client(), event)

    assert answer.status_code == 200
    assert answer.get_json() == {"received": True, "outcome": "queued"}
    assert processed(pay_app) == [(event["id"], "queued")]
    assert intent_fetches(stripe_sandbox, intent_id) == fetches
    assert load_payment(pay_app, customer.public_id)[0].status == "verified"

    handle_queued_webhooks(pay_app)

    assert processed(pay_app) == [(event["id"], "applied")]
    assert load_payment(pay_app, customer.public_id)[0].status == "succeeded"


def test_stripe_unreachable_means_the_worker_retries_later_and_changes_nothing_meanwhile(
    pay_app, customer, intent_id, stripe_sandbox
):
    """Proves: when Stripe cannot be asked, the event stays queued with the error and a later
    due time (backoff), nothing about the payment is half-applied, and once Stripe answers
    again the same event is applied, once."""
    from datetime import timedelta

    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent

    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    arm_fault(stripe_sandbox, "500", count=3, path_prefix=f"/v1/payment_intents/{intent_id}")

    assert deliver(pay_app.test_client(), event).get_json()["outcome"] == "queued"
    counts = handle_queued_webhooks(pay_app)

    assert (counts.claimed, counts.retrying, counts.applied) == (1, 1, 0)
    assert outcome_of(pay_app, event["id"]) == "queued"
    with pay_app.app_context():
        row = db.session.execute(select(ProcessedWebhookEvent)).scalar_one()
        assert (row.attempts, row.claimed_by) == (1, None)
        assert "unavailable" in row.last_error and row.next_attempt_at > row.received_at
        assert load_payment(pay_app, customer.public_id)[0].status == "verified"
        # Backoff: nothing is due yet; pretend the wait is over.
        row.next_attempt_at = row.received_at - timedelta(seconds=1)
        db.session.commit()

    handle_queued_webhooks(pay_app)

    assert outcome_of(pay_app, event["id"]) == "applied"
    assert load_payment(pay_app, customer.public_id)[0].status == "succeeded"
    assert audit_actions(pay_app, customer.public_id).count("payment.succeeded") == 1


def test_webhooks_are_neither_refused_nor_counted_by_an_app_wide_rate_limit(
    app_factory, stripe_sandbox
):
    """Proves: with an operator's app-wide limit of 2 requests a minute in force, a burst of
    Stripe's events is still taken in (a 429 would only make Stripe resend later, delaying
    every payment), and the events do not use up the limit other routes share."""
    from portal.extensions import limiter
    from tests.support.payments import sandbox_settings

    # The limiter is one object for every app in the process, and keeps the first app-wide
    # limit it is given: this test sets one, then takes it away again.
    assert limiter.limit_manager.application_limits == []
    try:
        app = app_factory(**sandbox_settings(stripe_sandbox), RATELIMIT_APPLICATION="2 per minute")
        client = app.test_client()
        burst = [
            {"id": f"evt_burst_{n}", "type": "customer.created", "data": {"object": {}}}
            for n in range(5)
        ]

        answers = [deliver(client, event) for event in burst]

        outcomes = [(a.status_code, a.get_json()["outcome"]) for a in answers]
        assert outcomes == [(200, "ignored")] * 5
        assert [client.get("/login").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        limiter.limit_manager.set_application_limits([])


def test_a_signed_body_that_is_not_json_is_refused(pay_app):
    from stripe_sandbox.webhooks import sign

    body = b"not json at all"
    response = pay_app.test_client().post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET)},
        content_type="application/json",
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "event",
    [
        {"id": "\x00", "type": "payment_intent.succeeded", "data": {"object": {}}},
        {"id": "evt_1", "type": "payment_intent.succeeded\x00", "data": {"object": {}}},
        {"id": "evt_1", "type": "x", "data": {"object": {"object": "payment_intent", "id": 7}}},
        {"id": "evt_1", "type": "x", "data": {"object": {"metadata": {"postern_request": "a b"}}}},
    ],
    ids=["nul-id", "nul-type", "numeric-object-id", "odd-request-id"],
)
def test_a_signed_event_with_ids_unlike_stripes_is_refused(pay_app, event):
    """Correctly signed but not shaped like a Stripe event: refused with 400 before any id
    reaches a query (a NUL once made PostgreSQL fail with a 500), and nothing is recorded."""
    body, headers = signed(event)
    response = pay_app.test_client().post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400
    assert processed(pay_app) == []


def test_events_about_one_payment_in_one_batch_ask_stripe_once(
    pay_app, customer, intent_id, stripe_sandbox
):
    """Proves: the worker asks Stripe about a PaymentIntent once per batch: the second event
    (received before that one fetch) is covered by the state it returned. The decline is
    still counted once."""
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    client = pay_app.test_client()
    events = [
        event_of_type(stripe_sandbox, intent_id, "charge.failed"),
        event_of_type(stripe_sandbox, intent_id, "payment_intent.payment_failed"),
    ]
    for event in events:
        assert deliver(client, event).get_json()["outcome"] == "queued"
    fetches = intent_fetches(stripe_sandbox, intent_id)

    counts = handle_queued_webhooks(pay_app)

    assert (counts.claimed, counts.applied) == (2, 2)
    assert intent_fetches(stripe_sandbox, intent_id) == fetches + 1
    assert [outcome_of(pay_app, event["id"]) for event in events] == ["applied"] * 2
    assert load_payment(pay_app, customer.public_id)[1].failed_attempts == 1


def test_an_event_stripe_never_answers_for_is_given_up_and_logged(
    pay_app, customer, intent_id, stripe_sandbox, caplog
):
    """Proves: after WEBHOOK_MAX_ATTEMPTS the event is marked "failed" (not retried forever),
    with an error line naming the event (not the payment's details); the payment is left
    for ``flask payments reconcile``, untouched."""
    from datetime import timedelta

    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent

    pay_app.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    arm_fault(stripe_sandbox, "500", count=50, path_prefix=f"/v1/payment_intents/{intent_id}")
    caplog.set_level(logging.WARNING, logger="postern")
    deliver(pay_app.test_client(), event)

    first = handle_queued_webhooks(pay_app)
    with pay_app.app_context():
        row = db.session.execute(select(ProcessedWebhookEvent)).scalar_one()
        row.next_attempt_at = row.received_at - timedelta(seconds=1)
        db.session.commit()
    second = handle_queued_webhooks(pay_app)

    assert (first.retrying, second.failed) == (1, 1)
    assert outcome_of(pay_app, event["id"]) == "failed"
    assert handle_queued_webhooks(pay_app).claimed == 0
    assert load_payment(pay_app, customer.public_id)[0].status == "verified"
    [given_up] = [r for r in caplog.records if r.getMessage().startswith("webhook given up")]
    assert given_up.levelname == "ERROR" and given_up.event_id == event["id"]


def test_an_answer_that_is_not_a_payment_intent_is_retried_never_applied(
    pay_app, customer, intent_id, stripe_sandbox
):
    """Proves: a 200 from Stripe without the PaymentIntent's fields (a proxy's page, an API
    change) is treated as Stripe unavailable: nothing is applied, the event backs off, and
    the next attempt applies the real answer."""
    from datetime import timedelta

    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent

    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    arm_fault(stripe_sandbox, "garbled", path_prefix=f"/v1/payment_intents/{intent_id}")
    deliver(pay_app.test_client(), event)

    assert handle_queued_webhooks(pay_app).retrying == 1
    with pay_app.app_context():
        row = db.session.execute(select(ProcessedWebhookEvent)).scalar_one()
        assert (row.outcome, row.last_error) == (
            "queued",
            "payment provider unavailable (unreadable)",
        )
        assert load_payment(pay_app, customer.public_id)[0].status == "verified"
        row.next_attempt_at = row.received_at - timedelta(seconds=1)
        db.session.commit()

    assert handle_queued_webhooks(pay_app).applied == 1
    assert load_payment(pay_app, customer.public_id)[0].status == "succeeded"


def test_an_event_whose_handling_keeps_raising_backs_off_then_is_given_up(
    pay_app, customer, intent_id, stripe_sandbox, caplog
):
    """Proves: an event that makes the worker raise something unforeseen (here the payment
    provider's client failing in a way no error class describes) neither stops the worker nor
    is tried forever: the error is stored as its class name only (an exception's text may
    quote data), the event backs off, and after WEBHOOK_MAX_ATTEMPTS it is marked "failed"
    while the payment stays untouched for reconcile."""
    from datetime import timedelta

    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent
    from portal.payments.gateway import StripeGateway
    from portal.stripe_events.worker import run_once

    class ClientBug(StripeGateway):  # Stripe's side of the edge, failing unforeseeably
        def retrieve_payment_intent(self, intent_id):
            raise RuntimeError(f"unforeseen failure about {intent_id}")

    pay_app.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    poison = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    caplog.set_level(logging.WARNING, logger="postern")
    deliver(pay_app.test_client(), poison)

    with pay_app.app_context():
        bug = ClientBug.from_config()
        first = run_once(worker_id="w1", gateway=bug)
        row = db.session.execute(select(ProcessedWebhookEvent)).scalar_one()
        assert (row.outcome, row.attempts, row.last_error) == ("queued", 1, "RuntimeError")
        row.next_attempt_at = row.received_at - timedelta(seconds=1)
        db.session.commit()
        second = run_once(worker_id="w1", gateway=bug)
        third = run_once(worker_id="w1", gateway=bug)

    assert (first.retrying, second.failed, third.claimed) == (1, 1, 0)
    assert outcome_of(pay_app, poison["id"]) == "failed"
    assert load_payment(pay_app, customer.public_id)[0].status == "verified"
    assert any(r.getMessage().startswith("webhook given up") for r in caplog.records)


def test_the_back_office_timeline_shows_each_event_received_and_what_came_of_it(
    pay_app, customer, intent_id, stripe_sandbox
):
    """Proves: the request's timeline lists the Stripe events received about its payment,
    with the worker's outcome in words (one still waiting, one handled)."""
    from portal.reporting.timeline import WEBHOOK, timeline

    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    client = pay_app.test_client()
    received(client, pay_app, event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded"))
    deliver(client, event_of_type(stripe_sandbox, intent_id, "charge.succeeded"))

    request, payment = load_payment(pay_app, customer.public_id)
    with pay_app.app_context():
        entries = [entry for entry in timeline(request, payment, []) if entry.source == WEBHOOK]

    assert [entry.what for entry in entries] == [
        "Stripe: the payment succeeded (handled)",
        "Stripe: the card was charged (waiting to be handled)",
    ]
    assert {entry.actor for entry in entries} == {"Stripe (webhook)"}


def test_a_dispute_of_someone_elses_payment_is_not_ours_and_writes_nothing(pay_app, stripe_sandbox):
    """A payment made at Stripe by another system, disputed: the dispute is fetched, found to be
    about no payment of ours, and nothing is written."""
    from portal.extensions import db
    from portal.models.dispute import Dispute

    intent = stripe_api(
        stripe_sandbox,
        "POST",
        "/v1/payment_intents",
        amount=900,
        currency="gbp",
        confirm="true",
        payment_method="pm_card_createDispute",
        **{"payment_method_types[]": "card"},
    )
    assert intent["status"] == "succeeded", intent
    created = event_of_type(stripe_sandbox, intent["id"], "charge.dispute.created")

    assert received(pay_app.test_client(), pay_app, created) == "not_ours"
    with pay_app.app_context():
        assert db.session.query(Dispute).count() == 0


def test_refund_and_dispute_events_appear_on_the_payments_timeline(
    pay_app, make_staff, stripe_sandbox
):
    from tests.support.backoffice_write import ask_refund, reauth
    from tests.support.refund_journeys import DISPUTED, deliver_all, new_events, paid_with
    from tests.support.web import login

    public_id, intent_id = paid_with(pay_app, stripe_sandbox, make_staff("agent").id, DISPUTED)
    deliver_all(pay_app, new_events(stripe_sandbox, intent_id, set()))
    client = pay_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    fields = {"scope": "full", "amount": "", "reason_code": "goodwill", "note": "Sorry"}
    assert ask_refund(client, public_id, fields).status_code == 409

    page = client.get(f"/backoffice/transactions/{public_id}").get_data(as_text=True)

    assert "Stripe: the cardholder&#39;s bank opened a dispute (handled)" in page
    assert "Stripe: the disputed amount was taken from our Stripe balance (handled)" in page
    assert "Disputed amount taken from our Stripe balance" in page
