"""Payments on the production-like stack, for the fault tests: a customer at the payment step
through nginx, Stripe's sandbox as the customer's browser and Stripe's dashboard see it, our
payment rows, and the webhook inbox. (Not called ``*_test.py``: pytest would collect it.)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests

from tests.prodlike.stack import Stack
from tests.reliability.stack_support import IDENTITY_ANSWER, browser, database
from tests.support.capture import capture_request_row, create_direct
from tests.support.loopback import wait_until
from tests.support.web import csrf_from

_CLIENT_SECRET = re.compile(r'data-client-secret="([^"]+)"')


# --- a customer at the payment step ----------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    """A customer's browser at the payment step of a request (Start pressed, identity shown)."""

    session: requests.Session
    public_id: str
    link: str

    @property
    def pay_url(self) -> str:
        return self.link + "/pay"


def customer_at_payment(stack: Stack, agent_id: int, **spec) -> Customer:
    """A payment request (made by ``agent_id`` through the capture service) and a customer who
    opened its link, pressed Start and answered the identity check through nginx."""
    public_id, link = create_direct(stack.app(), agent_id, **spec)
    assert link.startswith(stack.url + "/c/"), link
    session = browser(stack)
    landing = session.get(link, timeout=30)
    assert landing.status_code == 200, landing.status_code
    started = session.post(
        link + "/start", data={"csrf_token": csrf_from(landing.text)}, allow_redirects=False
    )
    assert started.status_code == 303, started.status_code
    check = session.get(link + "/check", timeout=30)
    answered = session.post(
        link + "/check",
        data={"answer": IDENTITY_ANSWER, "csrf_token": csrf_from(check.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert answered.status_code == 303, answered.status_code
    return Customer(session, public_id, link)


def intent_on_page(page_html: str) -> tuple[str, str]:
    """(PaymentIntent id, client secret) from the payment page, as Stripe.js reads them."""
    secret = _CLIENT_SECRET.search(page_html).group(1)
    return secret.split("_secret_", 1)[0], secret


# --- Stripe's sandbox ------------------------------------------------------------------------


def stripe_api(
    stack: Stack, method: str, path: str, session: requests.Session | None = None, **data
) -> dict[str, Any]:
    """Call the sandbox's API with the secret key, as Stripe's dashboard or another system
    would (through ``session`` if given, to keep one connection for many calls)."""
    answer = (session or stack.https()).request(
        method,
        stack.sandbox.url + path,
        data=data,
        auth=(stack.settings["STRIPE_SECRET_KEY"], ""),
        timeout=30,
    )
    return answer.json()


def pay_in_browser(stack: Stack, client_secret: str, payment_method: str = "pm_card_visa") -> dict:
    """What Stripe.js does when the customer presses Pay: confirm with the publishable key and
    the client secret (a test PaymentMethod stands in for the typed card)."""
    intent_id = client_secret.split("_secret_", 1)[0]
    answer = stack.https().post(
        f"{stack.sandbox.url}/v1/payment_intents/{intent_id}/confirm",
        data={
            "key": stack.settings["STRIPE_PUBLISHABLE_KEY"],
            "client_secret": client_secret,
            "payment_method": payment_method,
        },
        timeout=30,
    )
    return answer.json()


def intents_made_for(stack: Stack, public_id: str) -> list[dict]:
    """PaymentIntent creations Stripe carried out for our request ``public_id`` (not
    idempotent replays), from the sandbox's record of calls."""
    return [
        call
        for call in stack.sandbox.requests("POST", "/v1/payment_intents")
        if call["status"] == 200
        and not call["replayed"]
        and call["params"].get("metadata[postern_request]") == public_id
    ]


def charges_for(stack: Stack, public_id: str) -> list[dict]:
    """Stripe's successful charges on any PaymentIntent made for our request ``public_id``,
    read from the sandbox's own store: more than one is a double charge."""
    store = stack.sandbox.sandbox.store
    with store.lock:
        intents = {
            intent_id
            for intent_id, intent in store.payment_intents.items()
            if intent.get("metadata", {}).get("postern_request") == public_id
        }
        return [
            dict(charge)
            for charge in store.charges.values()
            if charge.get("payment_intent") in intents and charge.get("status") == "succeeded"
        ]


def sandbox_quiet(stack: Stack) -> bool:
    """The sandbox has no webhook left to deliver."""
    return stack.sandbox.sandbox.webhooks.pending() == 0


# --- the webhook inbox -------------------------------------------------------------------------


def webhook_queue(stack: Stack) -> Counter:
    """The webhook inbox's rows by outcome."""
    with database(stack) as connection:
        return Counter(
            dict(
                connection.execute(
                    "SELECT outcome, count(*) FROM processed_webhook_events GROUP BY outcome"
                ).fetchall()
            )
        )


def wait_for_webhooks_handled(stack: Stack, timeout: float = 60) -> None:
    """Until the sandbox has delivered everything and the worker left nothing queued."""
    wait_until(
        lambda: sandbox_quiet(stack) and webhook_queue(stack)["queued"] == 0,
        timeout,
        "every webhook delivered and handled",
        every=0.2,
    )


# --- payments made at Stripe, and our rows for them ------------------------------------------


def seed_payment_requests(stack: Stack, agent_id: int, pairs: list[tuple[str, str]]) -> None:
    """For each (public id, PaymentIntent id): a verified payment request with its payment row
    linked to the PaymentIntent, as the payment page leaves them (amount 1000 + its index)."""
    from datetime import timedelta

    from portal.extensions import db
    from portal.models.payment import Payment
    from portal.models.types import utcnow

    with stack.app().app_context():
        now = utcnow()
        for number, (public_id, intent_id) in enumerate(pairs):
            request = capture_request_row(
                agent_id,
                now=now,
                expires_in=timedelta(hours=1),
                public_id=public_id,
                status="verified",
                amount_minor=1000 + number,
                reference=f"SEED-{public_id}",
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
        db.session.remove()


def events_about(stack: Stack, intent_ids: set[str]) -> list[dict]:
    """Every event the sandbox emitted about ``intent_ids`` (or their charges), oldest first."""
    store = stack.sandbox.sandbox.store
    with store.lock:
        return [
            dict(event)
            for event in store.events.values()
            if event["data"]["object"].get("id") in intent_ids
            or event["data"]["object"].get("payment_intent") in intent_ids
        ]


def inbox_rows(stack: Stack, event_ids: set[str]) -> dict[str, tuple[str, str | None]]:
    """{event id: (outcome, claimed_by)} of the webhook inbox rows for ``event_ids``."""
    with database(stack) as connection:
        rows = connection.execute(
            "SELECT stripe_event_id, outcome, claimed_by FROM processed_webhook_events "
            "WHERE stripe_event_id = ANY(%s)",
            (list(event_ids),),
        ).fetchall()
    return {event_id: (outcome, claimed_by) for event_id, outcome, claimed_by in rows}
