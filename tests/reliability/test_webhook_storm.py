"""A webhook storm through nginx, on the production-like stack (gunicorn with production
settings, PostgreSQL, Redis, the webhook worker running as a service): real Stripe events from
the sandbox about payments that succeed, are declined and retried, are canceled or wait for
3-D Secure.

Two sets of payments tell the same stories (the same seed). One set's events are delivered once,
in order, by one sender; the other's are shuffled, a tenth of them sent twice, by eight senders
at once. The webhook worker handles whatever has queued up meanwhile, so its batches mix
payments and repeat PaymentIntents. Both sets end in the same state (requests, payments,
attempts, received events and their outcomes, audit actions), the state Stripe holds, and every
duplicate is recognised as one.

The sandbox's own deliveries are switched off while the payments are made, so that the test is
the only sender. The module's stack has its rate limits lifted (as every fault module's);
nothing else differs from production.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections import Counter

import pytest
from sqlalchemy import select

from stripe_sandbox.webhooks import sign
from tests.reliability.stack_payments import (
    events_about,
    inbox_rows,
    seed_payment_requests,
    stripe_api,
)
from tests.reliability.stack_support import (
    AUDITED,
    add_agent,
    audit_verify,
    database,
    wait_until_sealed,
)
from tests.reliability.support import record_fault, run_clients
from tests.support.loopback import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.prodlike]
PAYMENTS = 160
DUPLICATE_SHARE = 0.10
SENDERS = 8
#: Intent status at Stripe -> payment status in our rows.
STRIPE_TO_OURS = {"succeeded": "succeeded", "canceled": "canceled"}


def _make_payments(stack, session, tag: str) -> list[tuple[str, str]]:
    """PAYMENTS PaymentIntents in assorted end states (the same stories for every ``tag``, five
    characters); returns (public_id, intent id) pairs."""
    chooser = random.Random(1234)
    made = []
    for number in range(PAYMENTS):
        public_id = f"S{tag}{number:04d}"
        intent = stripe_api(
            stack,
            "POST",
            "/v1/payment_intents",
            session,
            amount=1000 + number,
            currency="gbp",
            **{"metadata[postern_request]": public_id, "payment_method_types[]": "card"},
        )
        for suffix, method in _story(chooser.random()):
            data = {"payment_method": method} if method else {}
            stripe_api(
                stack, "POST", f"/v1/payment_intents/{intent['id']}{suffix}", session, **data
            )
        made.append((public_id, intent["id"]))
    return made


def _story(draw: float) -> list[tuple[str, str | None]]:
    """What happens to a PaymentIntent: (path suffix, payment method) calls, in order."""
    if draw < 0.15:  # declined, then abandoned
        return [("/confirm", "pm_card_chargeDeclined"), ("/cancel", None)]
    if draw < 0.35:  # declined, then paid with another card
        return [("/confirm", "pm_card_chargeDeclined"), ("/confirm", "pm_card_visa")]
    if draw < 0.45:  # waiting for 3-D Secure
        return [("/confirm", "pm_card_authenticationRequired")]
    if draw < 0.50:  # created, never confirmed
        return []
    return [("/confirm", "pm_card_visa")]


def _deliver(stack, events: list[dict], senders: int) -> Counter:
    """POST each event to the stack as Stripe would, signed, through nginx, from ``senders``
    clients at once (each takes the next event in the list). Returns the answers' outcomes."""
    secret = stack.settings["STRIPE_WEBHOOK_SECRET"]
    bodies = iter([json.dumps(event).encode() for event in events])
    lock = threading.Lock()
    outcomes: Counter = Counter()
    problems: list[str] = []

    def sender(_index: int) -> None:
        session = stack.https()
        while True:
            with lock:
                body = next(bodies, None)
            if body is None:
                return
            answer = session.post(
                stack.url + "/webhooks/stripe",
                data=body,
                headers={
                    "Stripe-Signature": sign(body, secret),
                    "Content-Type": "application/json",
                },
                timeout=30,
            )
            with lock:
                if answer.status_code != 200:
                    problems.append(f"{answer.status_code} {answer.text[:200]}")
                else:
                    outcomes[answer.json()["outcome"]] += 1

    run_clients(sender, senders, deadline_seconds=120)
    assert not problems, problems[:3]
    return outcomes


def _handled(stack, events: list[dict]) -> None:
    ids = {event["id"] for event in events}
    wait_until(
        lambda: (
            (rows := inbox_rows(stack, ids)).keys() == ids
            and all(outcome != "queued" for outcome, _ in rows.values())
        ),
        120,
        "every event handled",
        every=0.2,
    )


def _state(stack, pairs: list[tuple[str, str]]) -> dict:
    """The end state of one set of payments, keyed by story number, without the ids that
    differ between sets."""
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment, PaymentAttempt, ProcessedWebhookEvent

    number_of = {public_id: number for number, (public_id, _) in enumerate(pairs)}
    by_intent = {intent: number for number, (_, intent) in enumerate(pairs)}
    with stack.app().app_context():
        rows = db.session.execute(
            select(CaptureRequest, Payment)
            .join(Payment, Payment.capture_request_id == CaptureRequest.id)
            .where(CaptureRequest.public_id.in_(number_of))
        ).all()
        payments = {
            number_of[request.public_id]: (
                request.status,
                request.status_reason,
                payment.status,
                payment.failed_attempts,
                payment.failure_code,
                payment.decline_code,
                payment.latest_charge_id is not None,
                payment.card_brand,
                payment.card_last4,
                payment.three_d_secure,
                payment.cancellation_reason,
            )
            for request, payment in rows
        }
        attempts = Counter(
            (by_intent[intent], outcome)
            for intent, outcome in db.session.execute(
                select(Payment.stripe_payment_intent_id, PaymentAttempt.outcome)
                .join(Payment, Payment.id == PaymentAttempt.payment_id)
                .where(Payment.stripe_payment_intent_id.in_(by_intent))
            ).all()
        )
        processed = Counter(
            (by_intent[intent], event_type, outcome)
            for intent, event_type, outcome in db.session.execute(
                select(
                    ProcessedWebhookEvent.payment_intent_id,
                    ProcessedWebhookEvent.event_type,
                    ProcessedWebhookEvent.outcome,
                ).where(ProcessedWebhookEvent.payment_intent_id.in_(by_intent))
            ).all()
        )
        db.session.remove()
    with database(stack) as connection:
        audited = Counter(
            (number_of[target], action, actor)
            for target, action, actor in connection.execute(
                f"SELECT target_id, action, actor_label FROM {AUDITED}"  # noqa: S608 - fixed
                " WHERE target_id = ANY(%s)",
                (list(number_of),),
            ).fetchall()
        )
    return {"payments": payments, "attempts": attempts, "processed": processed, "audit": audited}


@pytest.fixture
def sandbox_silent(stack):
    """The sandbox delivers no webhook of its own during the test: the test is the sender."""
    stack.sandbox.set_webhook(None)
    yield stack
    stack.sandbox.set_webhook(
        stack.url + "/webhooks/stripe", stack.settings["STRIPE_WEBHOOK_SECRET"]
    )


def test_a_shuffled_duplicated_storm_through_nginx_ends_where_the_ordered_stream_does(
    sandbox_silent,
):
    """Proves: event handling is idempotent (each event id once; every duplicate answered
    "duplicate" and changing nothing, even racing its original from another sender) and
    order-independent (the PaymentIntent is re-fetched and applied monotonically), so the
    shuffled storm with repeats leaves exactly the state the ordered stream leaves, which is
    Stripe's; and ``flask audit verify`` passes."""
    stack = sandbox_silent
    tag = secrets.token_hex(2)
    agent_id = add_agent(stack, f"stormagent.{tag}")
    session = stack.https()
    ordered_pairs = _make_payments(stack, session, tag + "a")
    storm_pairs = _make_payments(stack, session, tag + "b")
    seed_payment_requests(stack, agent_id, ordered_pairs + storm_pairs)
    ordered_events = events_about(stack, {intent for _, intent in ordered_pairs})
    storm_events = events_about(stack, {intent for _, intent in storm_pairs})
    assert len(ordered_events) == len(storm_events) > 2 * PAYMENTS

    ordered_outcomes = _deliver(stack, ordered_events, senders=1)
    _handled(stack, ordered_events)
    chooser = random.Random(99)
    duplicates = int(len(storm_events) * DUPLICATE_SHARE)
    storm = storm_events + chooser.sample(storm_events, duplicates)
    chooser.shuffle(storm)
    storm_outcomes = _deliver(stack, storm, senders=SENDERS)
    _handled(stack, storm_events)

    ordered, shuffled = _state(stack, ordered_pairs), _state(stack, storm_pairs)
    assert "duplicate" not in ordered_outcomes
    assert storm_outcomes["duplicate"] == duplicates, storm_outcomes
    assert sum(storm_outcomes.values()) - storm_outcomes["duplicate"] == len(storm_events)
    assert sum(shuffled["processed"].values()) == len(storm_events)
    assert "queued" not in {outcome for _, _, outcome in shuffled["processed"]}
    different = [part for part in ordered if shuffled[part] != ordered[part]]
    assert different == [], {part: (ordered[part], shuffled[part]) for part in different}
    final = Counter(state[2] for state in shuffled["payments"].values())
    assert {"succeeded", "canceled", "requires_action"} <= set(final), final
    at_stripe = {
        number: stripe_api(stack, "GET", f"/v1/payment_intents/{intent}", session)["status"]
        for number, (_, intent) in enumerate(storm_pairs)
    }
    unlike_stripe = [
        number
        for number, status in at_stripe.items()
        if status in STRIPE_TO_OURS and shuffled["payments"][number][2] != STRIPE_TO_OURS[status]
    ]
    assert unlike_stripe == [], unlike_stripe
    wait_until_sealed(stack, {public_id for public_id, _ in ordered_pairs + storm_pairs})
    audit_verify(stack)
    record_fault(
        f"webhook storm through nginx: {len(storm_events)} events shuffled, {duplicates} sent "
        f"twice, {SENDERS} senders at once",
        "each event applied once; duplicates answered as such; the end state of the ordered "
        "stream (and Stripe's)",
        f"{storm_outcomes['duplicate']} duplicates recognised; {len(storm_events)} events "
        f"handled; {PAYMENTS} payments end as the ordered set's ({dict(final)})",
        len(storm_events) - (sum(storm_outcomes.values()) - storm_outcomes["duplicate"]),
        duplicates - storm_outcomes["duplicate"],
    )
