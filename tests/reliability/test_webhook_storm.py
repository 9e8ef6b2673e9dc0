"""A webhook storm: 1,000 real Stripe events (from the sandbox, about a few hundred payments
that succeed, are declined and retried, are canceled or wait for 3-D Secure), delivered once in
order (each handled by the webhook worker as it arrives) and, from the same starting point,
shuffled with 10% of them sent twice (the worker handling whatever has queued up every few dozen
deliveries, so its batches mix payments and repeat PaymentIntents). The final state (requests,
payments, attempts, received events and their outcomes, audit actions) is the same, and every
duplicate is recognised as one.

In-process app (SQLite and PostgreSQL); the worker re-fetches each PaymentIntent from the
sandbox over HTTP, exactly as in production."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from tests.conftest import _empty_all_tables
from tests.functional.payments_support import (
    WEBHOOK_SECRET,
    handle_queued_webhooks,
    sandbox_settings,
    stripe_api,
)

EVENTS = 1000
DUPLICATE_SHARE = 0.10
pytestmark = [pytest.mark.reliability]


def _make_payments(sandbox, count: int) -> list[tuple[str, str]]:
    """``count`` PaymentIntents in assorted end states; returns (public_id, intent id) pairs."""
    chooser = random.Random(1234)
    made = []
    for number in range(count):
        public_id = f"STORM{number:05d}"[:10]
        intent = stripe_api(
            sandbox,
            "POST",
            "/v1/payment_intents",
            amount=1000 + number,
            currency="gbp",
            **{"metadata[postern_request]": public_id, "payment_method_types[]": "card"},
        )
        path = f"/v1/payment_intents/{intent['id']}"
        story = chooser.random()
        if story < 0.15:
            stripe_api(sandbox, "POST", path + "/confirm", payment_method="pm_card_chargeDeclined")
            stripe_api(sandbox, "POST", path + "/cancel")
        elif story < 0.35:
            stripe_api(sandbox, "POST", path + "/confirm", payment_method="pm_card_chargeDeclined")
            stripe_api(sandbox, "POST", path + "/confirm", payment_method="pm_card_visa")
        elif story < 0.45:
            stripe_api(
                sandbox, "POST", path + "/confirm", payment_method="pm_card_authenticationRequired"
            )
        elif story < 0.50:
            pass  # created, never confirmed
        else:
            stripe_api(sandbox, "POST", path + "/confirm", payment_method="pm_card_visa")
        made.append((public_id, intent["id"]))
    return made


def _all_events(sandbox) -> list[dict]:
    """Every event the sandbox emitted, oldest first."""
    events, after = [], None
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        page = requests.get(
            f"{sandbox.url}/v1/events", params=params, auth=(sandbox.secret_key, ""), timeout=10
        ).json()
        events.extend(page["data"])
        if not page["has_more"]:
            return list(reversed(events))
        after = page["data"][-1]["id"]


def _seed(app, agent_id: int, payments: list[tuple[str, str]]) -> None:
    """A verified payment request with a linked PaymentIntent, for each pair."""
    from portal.capture import links
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment
    from portal.models.types import utcnow

    with app.app_context():
        now = utcnow()
        for number, (public_id, intent_id) in enumerate(payments):
            request = CaptureRequest(
                public_id=public_id,
                kind="payment",
                status="verified",
                created_by_id=agent_id,
                amount_minor=1000 + number,
                currency="GBP",
                reference=f"STORM-{number}",
                readback_code="KTW47",
                link_nonce_hash=links.hash_secret(public_id),
                link_issued_at=now,
                expires_at=now + timedelta(hours=1),
                created_at=now,
                updated_at=now,
                verified_at=now,
            )
            db.session.add(request)
            db.session.flush()
            db.session.add(
                Payment(
                    capture_request_id=request.id,
                    stripe_payment_intent_id=intent_id,
                    amount_minor=1000 + number,
                    currency="GBP",
                    status="requires_payment_method",
                    created_at=now,
                    updated_at=now,
                )
            )
        db.session.commit()


def _state(app) -> dict:
    from portal.extensions import db
    from portal.models.audit import AuditEvent
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment, PaymentAttempt, ProcessedWebhookEvent

    with app.app_context():
        rows = db.session.execute(
            select(CaptureRequest, Payment).join(
                Payment, Payment.capture_request_id == CaptureRequest.id
            )
        ).all()
        payments = {
            request.public_id: (
                request.status,
                request.status_reason,
                payment.status,
                payment.failed_attempts,
                payment.failure_code,
                payment.decline_code,
                payment.latest_charge_id,
                payment.card_brand,
                payment.card_last4,
                payment.three_d_secure,
                payment.cancellation_reason,
            )
            for request, payment in rows
        }
        attempts = Counter(
            db.session.execute(select(PaymentAttempt.provider_ref, PaymentAttempt.outcome)).all()
        )
        processed = dict(
            db.session.execute(
                select(ProcessedWebhookEvent.stripe_event_id, ProcessedWebhookEvent.outcome)
            ).all()
        )
        audited = Counter(
            db.session.execute(
                select(AuditEvent.target_id, AuditEvent.action, AuditEvent.actor_label).where(
                    AuditEvent.target_id.in_(list(payments))
                )
            ).all()
        )
        return {
            "payments": payments,
            "attempts": attempts,
            "processed": processed,
            "audit": audited,
        }


def _deliver(app, events: list[dict], handle_every: int) -> Counter:
    """POST each event as Stripe would; the worker handles the queue after every
    ``handle_every`` deliveries, and at the end. Returns the endpoint's answers, counted."""
    from stripe_sandbox.webhooks import sign

    client = app.test_client()
    outcomes = Counter()
    for number, event in enumerate(events, start=1):
        body = json.dumps(event).encode()
        answer = client.post(
            "/webhooks/stripe",
            data=body,
            headers={
                "Stripe-Signature": sign(body, WEBHOOK_SECRET),
                "Content-Type": "application/json",
            },
        )
        assert answer.status_code == 200, (answer.status_code, answer.get_data(as_text=True))
        outcomes[answer.get_json()["outcome"]] += 1
        if number % handle_every == 0:
            handle_queued_webhooks(app)
    handle_queued_webhooks(app)
    return outcomes


def test_shuffled_and_duplicated_storm_ends_where_the_ordered_stream_does(
    app_factory, make_staff, stripe_sandbox
):
    """Proves: event handling is idempotent (each event id once; every duplicate answered
    "duplicate" and changing nothing) and order-independent (the object is re-fetched and
    applied monotonically), so 1,000 events shuffled with 100 repeats leave exactly the state
    the ordered stream leaves."""
    from portal.extensions import db

    app = app_factory(**sandbox_settings(stripe_sandbox))
    payments = _make_payments(stripe_sandbox, 320)
    events = _all_events(stripe_sandbox)
    assert len(events) >= EVENTS, len(events)
    events = events[:EVENTS]
    ours = {intent for _, intent in payments}
    assert (
        sum(
            1
            for e in events
            if e["data"]["object"].get("id") in ours
            or e["data"]["object"].get("payment_intent") in ours
        )
        == EVENTS
    )

    agent_id = make_staff("agent").id
    _seed(app, agent_id, payments)
    ordered_outcomes = _deliver(app, events, handle_every=1)
    ordered = _state(app)
    assert "duplicate" not in ordered_outcomes

    with app.app_context():
        db.session.remove()
        _empty_all_tables(db)
    agent_id = make_staff("agent").id
    _seed(app, agent_id, payments)
    chooser = random.Random(99)
    storm = events + chooser.sample(events, int(EVENTS * DUPLICATE_SHARE))
    chooser.shuffle(storm)
    storm_outcomes = _deliver(app, storm, handle_every=37)
    shuffled = _state(app)

    assert storm_outcomes["duplicate"] == int(EVENTS * DUPLICATE_SHARE)
    assert sum(storm_outcomes.values()) - storm_outcomes["duplicate"] == EVENTS
    assert len(shuffled["processed"]) == EVENTS
    assert "queued" not in set(shuffled["processed"].values())
    final_statuses = Counter(state[2] for state in shuffled["payments"].values())
    assert {"succeeded", "canceled", "requires_action"} <= set(final_statuses), final_statuses
    for part in ("payments", "attempts", "processed", "audit"):
        assert shuffled[part] == ordered[part], part
    assert shuffled["audit"] == ordered["audit"]
