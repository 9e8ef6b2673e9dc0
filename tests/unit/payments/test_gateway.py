"""portal.payments.gateway: the one place that speaks to Stripe (here: the sandbox, over HTTP)."""

from __future__ import annotations

import concurrent.futures
import http.server
import json
import socket
import threading
import time

import pytest
import requests
import stripe

from portal.payments.facts import intent_facts
from portal.payments.gateway import (
    PINNED_API_VERSION,
    ProviderRejected,
    ProviderUnavailable,
    StripeGateway,
    WebhookSignatureInvalid,
)
from tests.support.payments import arm_fault, confirm_in_browser, stripe_api

SECRET = "whsec_unit_tests"


@pytest.fixture
def gateway(stripe_sandbox) -> StripeGateway:
    return StripeGateway(stripe_sandbox.secret_key, stripe_sandbox.url, timeout_seconds=1.0)


def create(gateway, key="unit-1", **extra):
    return gateway.create_payment_intent(
        amount=1999, currency="GBP", metadata={"postern_request": "AAAAAAAAAA"},
        idempotency_key=key, **extra,
    )  # fmt: skip


def test_calls_pin_the_sdk_api_version(gateway, stripe_sandbox):
    create(gateway)
    assert stripe.api_version == PINNED_API_VERSION
    call = stripe_sandbox.requests("POST", "/v1/payment_intents")[-1]
    assert call["idempotency_key"] == "unit-1"


def test_facts_hold_only_what_may_be_kept(gateway, stripe_sandbox):
    intent = create(gateway)
    confirm_in_browser(stripe_sandbox, intent.id, "pm_card_visa")

    facts = gateway.retrieve_payment_intent(intent.id)

    assert (facts.status, facts.amount, facts.currency) == ("succeeded", 1999, "GBP")
    assert facts.metadata == {"postern_request": "AAAAAAAAAA"}
    charge = facts.charge
    assert (charge.brand, charge.last4) == ("visa", "4242")
    assert charge.exp_month and charge.exp_year and charge.three_d_secure is None
    assert "secret" not in repr(facts)  # the client secret never shows up in logs or reprs


def test_a_declined_attempt_carries_its_codes(gateway, stripe_sandbox):
    intent = create(gateway)
    confirm_in_browser(stripe_sandbox, intent.id, "pm_card_chargeDeclinedInsufficientFunds")

    facts = gateway.retrieve_payment_intent(intent.id)

    assert facts.status == "requires_payment_method"
    assert (facts.error_code, facts.error_decline_code) == ("card_declined", "insufficient_funds")
    assert facts.error_charge_id == facts.charge.id
    assert facts.charge.decline_code == "insufficient_funds"


def test_an_intents_charges_are_listed_failed_ones_included_newest_first(gateway, stripe_sandbox):
    intent = create(gateway)
    confirm_in_browser(stripe_sandbox, intent.id, "pm_card_chargeDeclined")
    confirm_in_browser(stripe_sandbox, intent.id, "pm_card_chargeDeclinedInsufficientFunds")
    confirm_in_browser(stripe_sandbox, intent.id, "pm_card_visa")
    other = create(gateway, key="unit-other")
    confirm_in_browser(stripe_sandbox, other.id, "pm_card_chargeDeclined")

    charges = gateway.charges_for_intent(intent.id)

    assert [(charge.status, charge.decline_code) for charge in charges] == [
        ("succeeded", None),
        ("failed", "insufficient_funds"),
        ("failed", "generic_decline"),
    ]
    assert [charge.failed for charge in charges] == [False, True, True]
    assert charges[0].id == gateway.retrieve_payment_intent(intent.id).latest_charge_id
    assert gateway.charges_for_intent(other.id)[0].failure_code == "card_declined"
    assert gateway.charges_for_intent(create(gateway, key="unit-none").id) == []


def test_a_long_charge_list_is_read_page_by_page(gateway, stripe_sandbox, monkeypatch):
    from portal.payments import gateway as gateway_module

    monkeypatch.setattr(gateway_module, "CHARGES_PER_PAGE", 2)
    intent = create(gateway)
    for _ in range(5):
        confirm_in_browser(stripe_sandbox, intent.id, "pm_card_chargeDeclined")

    charges = gateway.charges_for_intent(intent.id)

    assert len({charge.id for charge in charges}) == 5
    calls = stripe_sandbox.requests("GET", "/v1/charges")
    assert len(calls) == 3  # pages of 2, 2 and 1, each after the last id of the one before
    assert calls[1]["params"]["starting_after"] == charges[1].id


def test_a_wallet_card_keeps_its_own_brand_and_last_four(gateway, stripe_sandbox):
    """Google Pay (the sandbox's test wallet) hands over a tokenised card: brand and last four
    are the card's, and which wallet it was is the only wallet fact kept."""
    intent = create(gateway)
    method = stripe_api(stripe_sandbox, "POST", "/v1/payment_methods", type="card",
                        **{"card[token]": "tok_sandbox_google_pay"})  # fmt: skip
    confirm_in_browser(stripe_sandbox, intent.id, method["id"])

    charge = gateway.retrieve_payment_intent(intent.id).charge

    assert (charge.brand, charge.last4, charge.wallet) == ("visa", "4242", "google_pay")
    assert gateway.charges_for_intent(intent.id)[0].wallet == "google_pay"
    assert "dynamic_last4" not in repr(charge)


def test_intents_are_made_for_the_payment_method_types_given(gateway, stripe_sandbox):
    create(gateway)
    params = stripe_sandbox.requests("POST", "/v1/payment_intents")[-1]["params"]
    assert params["payment_method_types[0]"] == "card"
    assert not any(name.startswith("automatic_payment_methods") for name in params)


def test_cancel_tells_the_truth_about_an_intent_that_already_succeeded(gateway, stripe_sandbox):
    intent = create(gateway)
    confirm_in_browser(stripe_sandbox, intent.id, "pm_card_visa")

    assert gateway.cancel_payment_intent(intent.id).status == "succeeded"
    other = create(gateway, key="unit-2")
    assert gateway.cancel_payment_intent(other.id).status == "canceled"
    assert gateway.cancel_payment_intent(other.id).status == "canceled"  # again: no error


def test_errors_are_sorted_into_try_later_and_refused(stripe_sandbox):
    wrong_key = StripeGateway("sk_test_wrong", stripe_sandbox.url, 1.0)
    with pytest.raises(ProviderRejected) as refused:
        create(wrong_key)
    assert refused.value.status == 401

    unknown = StripeGateway(stripe_sandbox.secret_key, stripe_sandbox.url, 1.0)
    with pytest.raises(ProviderRejected) as missing:
        unknown.retrieve_payment_intent("pi_doesnotexist")
    assert missing.value.code == "resource_missing"

    arm_fault(stripe_sandbox, "429")
    with pytest.raises(ProviderUnavailable) as busy:
        create(unknown)
    assert busy.value.reason == "rate_limited"

    arm_fault(stripe_sandbox, "timeout", count=3)
    with pytest.raises(ProviderUnavailable) as slow:
        create(unknown, key="unit-3")
    assert slow.value.reason == "timeout"


@pytest.mark.parametrize(
    "call",
    [
        lambda gateway, intent_id: create(gateway, key="unit-garbled"),
        lambda gateway, intent_id: gateway.retrieve_payment_intent(intent_id),
        lambda gateway, intent_id: gateway.cancel_payment_intent(intent_id),
        lambda gateway, intent_id: gateway.refunds_for_intent(intent_id),
    ],
    ids=["create", "retrieve", "cancel", "list-refunds"],
)
def test_an_answer_without_the_object_asked_for_is_try_later(gateway, stripe_sandbox, call):
    """Proves: a 200 that is not the resource (a proxy's page, an API change) surfaces as
    ProviderUnavailable("unreadable"), which every caller already handles, never as a
    KeyError that would end in a 500 or stop a batch."""
    intent_id = create(gateway).id
    arm_fault(stripe_sandbox, "garbled", count=1)
    with pytest.raises(ProviderUnavailable) as unreadable:
        call(gateway, intent_id)
    assert unreadable.value.reason == "unreadable"


def test_nobody_listening_is_a_connection_problem():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = StripeGateway("sk_test_x", f"http://127.0.0.1:{port}", 0.5)
    with pytest.raises(ProviderUnavailable) as down:
        gateway.retrieve_payment_intent("pi_x")
    assert down.value.reason == "connection"


def _event(**extra) -> bytes:
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "charge.succeeded",
        "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_1",
                            "metadata": {"postern_request": "BBBBBBBBBB"}}},
        **extra,
    }  # fmt: skip
    return json.dumps(event).encode()


def _sign(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    """As Stripe signs: HMAC-SHA256 over ``t.<raw body>`` (the sandbox's signer, on bytes)."""
    from stripe_sandbox.webhooks import sign

    return sign(payload, secret, at)


def test_a_webhook_is_verified_on_its_raw_body(gateway):
    payload = _event()

    event = gateway.parse_webhook(payload, _sign(payload), SECRET)

    assert (event.id, event.type, event.object_type) == ("evt_1", "charge.succeeded", "charge")
    assert (event.payment_intent_id, event.request_public_id) == ("pi_1", "BBBBBBBBBB")


def test_webhooks_that_cannot_be_trusted(gateway):
    payload = _event()
    now = int(time.time())
    cases = [
        (payload, None, "missing"),
        (payload, "t=1,v1=deadbeef", "mismatch"),
        (payload, "garbage", "mismatch"),
        (payload, _sign(payload, "whsec_other"), "mismatch"),
        (payload + b" ", _sign(payload), "mismatch"),  # one byte added after signing
        (payload, _sign(payload, at=now - 301), "stale"),
        (b"{not json", _sign(b"{not json"), "unreadable"),
        (b"\xff\xfe", _sign(b"\xff\xfe"), "unreadable"),
    ]
    for body, header, reason in cases:
        with pytest.raises(WebhookSignatureInvalid) as refused:
            gateway.parse_webhook(body, header, SECRET)
        assert refused.value.reason == reason, (body, header)
    # Inside the five-minute tolerance is fine.
    assert gateway.parse_webhook(payload, _sign(payload, at=now - 299), SECRET).id == "evt_1"


def test_intent_facts_accept_a_plain_dict():
    facts = intent_facts(
        {"id": "pi_1", "status": "canceled", "amount": 5, "currency": "jpy",
         "cancellation_reason": "abandoned", "latest_charge": "ch_not_expanded"}
    )  # fmt: skip
    assert (facts.currency, facts.charge, facts.is_final) == ("JPY", None, True)
    assert facts.latest_charge_id == "ch_not_expanded"  # known even when not expanded


class _CountingStripe(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the same PaymentIntent, keeping connections alive; counts the
    connections it accepts and records each request line's target."""

    protocol_version = "HTTP/1.1"
    connections: list[int] = []
    targets: list[str] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.client_address[1])

    def do_GET(self) -> None:
        self.targets.append(self.path)
        body = json.dumps({"id": "pi_1", "object": "payment_intent", "status": "processing",
                           "amount": 5, "currency": "gbp", "metadata": {}}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def counting_stripe():
    _CountingStripe.connections, _CountingStripe.targets = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _CountingStripe
    server.shutdown()
    server.server_close()


def test_calls_to_stripe_reuse_their_connections(counting_stripe):
    """Proves: one gateway keeps its connections to Stripe open and reuses them, from one
    thread and from several (a worker's threads share it, each with a connection of its own):
    no TCP connection per call."""
    url, seen = counting_stripe
    gateway = StripeGateway("sk_test_x", url, 2.0)

    for _ in range(5):
        assert gateway.retrieve_payment_intent("pi_1").status == "processing"
    assert len(seen.connections) == 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        for _ in range(3):
            list(pool.map(lambda _: gateway.retrieve_payment_intent("pi_1"), range(3)))
    assert len(seen.targets) == 14 and len(seen.connections) <= 1 + 3


def test_each_thread_calls_stripe_through_a_session_of_its_own(counting_stripe, monkeypatch):
    """Proves: a gateway shared by a worker's threads gives each thread its own requests
    Session (requests does not promise that a Session may be shared between threads), and a
    thread keeps its session from one call to the next."""
    url, _seen = counting_stripe
    gateway = StripeGateway("sk_test_x", url, 2.0)
    sessions: dict[int, set[int]] = {}
    request = requests.Session.request

    def noting_the_session(session, *args, **kwargs):
        sessions.setdefault(threading.get_ident(), set()).add(id(session))
        return request(session, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", noting_the_session)
    all_started = threading.Barrier(3)

    def two_calls(_) -> None:
        all_started.wait(timeout=5)  # three threads alive at once, so three sessions alive
        for _ in range(2):
            gateway.retrieve_payment_intent("pi_1")

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(two_calls, range(3)))

    assert len(sessions) == 3
    assert all(len(per_thread) == 1 for per_thread in sessions.values())
    assert len(set().union(*sessions.values())) == 3


def test_a_proxy_set_in_the_environment_is_still_used(counting_stripe, monkeypatch):
    """Proves: reading the proxy settings once (instead of on every call) keeps honouring
    them: with a proxy set in the environment, a call to Stripe goes through that proxy."""
    url, seen = counting_stripe
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", url)
    gateway = StripeGateway("sk_test_x", "http://api.stripe.invalid", 2.0)

    assert gateway.retrieve_payment_intent("pi_1").id == "pi_1"
    assert seen.targets[0].startswith("http://api.stripe.invalid/v1/payment_intents/pi_1?")
