"""No label of /metrics ever carries personal data, a token, an id or a card number.

Real journeys run first, through the real pages, the outbox and the Stripe sandbox: requests
created with a customer's phone, email and reference, links delivered and opened, a wrong
identity answer, a lock, an expiry, data sent, a declined card and a paid one, a staff lockout,
a CSP report naming the link and a dispute event. Then /metrics is scraped as Prometheus does,
and every label value is checked against everything personal or secret the journeys used, and
against the allow-list of its label.
"""

from __future__ import annotations

import json
import time

import pytest

from portal.card_numbers import contains_pan, find_pans
from portal.observability import metrics as m
from portal.observability.http import UNMATCHED
from tests.support.auth import NO_LOGIN_RATE_LIMITS, token_for
from tests.support.capture import (
    answer_identity,
    create_direct,
    expire,
    path_of,
    press_start,
    token_of,
)
from tests.support.customer_details import ADDRESS, DATA_SPEC, Customer
from tests.support.metrics import METRICS_TOKEN, label_values, samples, scrape_text, value
from tests.support.payments import (
    PayingCustomer,
    confirm_in_browser,
    deliver,
    load_payment,
    sandbox_settings,
)

PHONE = "+447700900461"
EMAIL = "ottoline.quarry@example.org"
REFERENCE = "POL-55123-QX"
CARD = "4000000000009995"  # the insufficient-funds test card the declined attempt stands for

ALLOWED = {
    "stage": set(m.FUNNEL_STAGES),
    "reason": m.DECLINE_REASONS | {m.OTHER},
    "status@postern_refunds_total": set(m.REFUND_ACTIONS.values()),
    "status@postern_disputes_total": m.DISPUTE_STATUSES | {m.OTHER},
    "directive": m.CSP_DIRECTIVES | {m.OTHER},
    "method": m.HTTP_METHODS | {m.OTHER},
    "queue": {"outbox", "webhook_inbox", "audit_pending"},
    "worker": {"outbox", "webhooks"},
}


@pytest.fixture
def journey_app(app_factory, stripe_sandbox):
    return app_factory(
        **sandbox_settings(stripe_sandbox), **NO_LOGIN_RATE_LIMITS, METRICS_TOKEN=METRICS_TOKEN
    )


def _deliver_outbox(app) -> None:
    from portal.delivery.worker import run_once

    with app.app_context():
        assert run_once(worker_id="metrics-test-outbox").claimed >= 1


def _pay(app, sandbox, agent_id: int) -> tuple[str, str]:
    """A customer declined once (insufficient funds), then paid; returns (public id, link)."""
    public_id, url = create_direct(
        app, agent_id, reference=REFERENCE, channel="sms", destination=PHONE
    )
    _deliver_outbox(app)  # the SMS goes out before the customer opens the link it carries
    customer = PayingCustomer(app.test_client(), public_id, url)
    assert press_start(customer.client, url).status_code == 303
    assert answer_identity(customer.client, url, "SW1A 1AA").status_code == 303
    assert customer.client.get(customer.pay_path).status_code == 200
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(sandbox, intent_id, "pm_card_chargeDeclinedInsufficientFunds")
    customer.client.get(customer.pay_path + "/status")
    confirm_in_browser(sandbox, intent_id, "pm_card_visa")
    status = customer.client.get(customer.pay_path + "/status").get_json()
    assert status["state"] == "succeeded", status
    return customer.public_id, customer.url


def _lock(app, agent_id: int) -> tuple[str, str]:
    public_id, url = create_direct(app, agent_id, reference=REFERENCE + "-L")
    client = app.test_client()
    assert press_start(client, url).status_code == 303
    for _ in range(app.config["CAPTURE_IDENTITY_MAX_FAILURES"]):
        answer_identity(client, url, "ZZ9 9ZZ")
    return public_id, url


def _expire(app, agent_id: int) -> tuple[str, str]:
    public_id, url = create_direct(app, agent_id, channel="email", destination=EMAIL)
    expire(app, public_id)
    app.test_client().get(path_of(url))
    return public_id, url


def _lock_out_staff(app, user) -> None:
    client = app.test_client()
    csrf = token_for(client)
    for _ in range(10):
        client.post(
            "/login",
            data={"username": user.username, "password": f"nope {CARD}", "csrf_token": csrf},
        )


def _report_csp(app, token: str) -> None:
    report = {
        "csp-report": {
            "document-uri": f"https://pay.example/c/{token}/pay?email={EMAIL}",
            "effective-directive": "script-src-elem",
            "violated-directive": "script-src-elem",
            "blocked-uri": f"https://evil.example/skim.js?card={CARD}",
            "disposition": "enforce",
        }
    }
    answer = app.test_client().post(
        "/csp-report", data=json.dumps(report), content_type="application/csp-report"
    )
    assert answer.status_code == 204


def _dispute(app) -> None:
    event = {
        "id": "evt_dispute_metrics_1",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "type": "charge.dispute.created",
        "data": {"object": {"id": "dp_metrics_1", "object": "dispute", "reason": EMAIL}},
    }
    assert deliver(app.test_client(), event).status_code == 200


def _run_journeys(app, sandbox, make_staff) -> set[str]:
    """Everything personal or secret the journeys used (what no label may hold)."""
    agent = make_staff("agent")
    victim = make_staff("agent", username="ottoline.q")
    paid_id, paid_url = _pay(app, sandbox, agent.id)
    data = Customer(app, agent.id, reference=REFERENCE + "-D", **DATA_SPEC)
    assert data.send(ADDRESS).status_code == 303
    locked_id, locked_url = _lock(app, agent.id)
    expired_id, expired_url = _expire(app, agent.id)
    _lock_out_staff(app, victim)
    _report_csp(app, token_of(paid_url))
    _dispute(app)
    app.test_client().get(path_of(paid_url) + "/no-such-page")  # an unmatched raw path
    secrets = {PHONE, EMAIL, REFERENCE, "POL-55123", "55123", CARD, victim.username, "ZZ9 9ZZ"}
    secrets |= {"SW1A 1AA", "SW1A", METRICS_TOKEN, "dp_metrics_1"}
    secrets |= {value for value in ADDRESS.values() if value}
    for public_id, url in (
        (paid_id, paid_url),
        (data.public_id, data.base),
        (locked_id, locked_url),
        (expired_id, expired_url),
    ):
        secrets |= {public_id, token_of(url), path_of(url)}
    return secrets


def _allowed(app, metric: str, label: str, text: str) -> bool:
    if label == "route":
        return text == UNMATCHED or text in {rule.rule for rule in app.url_map.iter_rules()}
    if label == "status" and metric.startswith("postern_http_requests"):
        return text.isdigit() and len(text) == 3
    if label == "le":  # histogram bucket bounds
        return text == "+Inf" or float(text) in m.LATENCY_BUCKETS
    key = f"{label}@{metric}" if f"{label}@{metric}" in ALLOWED else label
    return text in ALLOWED[key]


def _moved(before: list, after: list) -> list:
    """The samples of ``after`` that are new or changed since ``before``: what this test's
    journeys did. The registry is the process's, so it also holds series other tests' apps
    (with routes of their own) left behind."""
    earlier = {(s.name, frozenset(s.labels.items())): s.value for s in before}
    return [s for s in after if earlier.get((s.name, frozenset(s.labels.items()))) != s.value]


def test_no_label_holds_anything_personal_or_secret(journey_app, stripe_sandbox, make_staff):
    before = samples(scrape_text(journey_app.test_client()))
    secrets = _run_journeys(journey_app, stripe_sandbox, make_staff)
    text = scrape_text(journey_app.test_client())
    found = label_values(samples(text))
    assert found, "the scrape has labels to check"

    for metric, label, label_text in found:
        lowered = label_text.lower()
        leaked = [s for s in secrets if s and s.lower() in lowered and s.lower() != "/"]
        assert not leaked, f"{metric}{{{label}={label_text!r}}} holds {leaked}"
        assert not contains_pan(label_text), f"{metric}{{{label}}} holds a card number"
        assert "@" not in label_text and "+44" not in label_text
    moved = label_values(_moved(before, samples(text)))
    assert len(moved) > 20, "the journeys moved many series"
    for metric, label, label_text in moved:
        assert _allowed(journey_app, metric, label, label_text), (metric, label, label_text)
    # The whole exposition, help texts and all, holds none of it either. (Sample values are
    # left out of the card-number check: a float's 16 digits may pass the Luhn check.)
    without_values = "\n".join(line.rsplit(" ", 1)[0] for line in text.splitlines())
    assert not [without_values[a - 40 : b] for a, b in find_pans(without_values)]
    assert not [s for s in secrets if len(s) > 5 and s in text]
    # The raw paths asked for are known only as their rule (or as unmatched).
    routes = {t for (_m, label, t) in found if label == "route"}
    assert {"/c/<token>", "/c/<token>/pay", UNMATCHED} <= routes


def test_the_journeys_move_every_counter(journey_app, stripe_sandbox, make_staff):
    client = journey_app.test_client()
    before = samples(scrape_text(client))
    _run_journeys(journey_app, stripe_sandbox, make_staff)
    after = samples(scrape_text(client))

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    stages = {
        stage: moved("postern_capture_funnel_total", stage=stage) for stage in m.FUNNEL_STAGES
    }
    # created: paid, data, locked, expired; delivered: the SMS (the email link had expired);
    # opened: the landing page of each link but the expired one.
    assert stages == {
        "created": 4,
        "delivered": 1,
        "opened": 3,
        "verified": 2,
        "data_captured": 1,
        "paid": 1,
        "expired": 1,
        "locked": 1,
    }
    assert moved("postern_payment_declines_total", reason="insufficient_funds") == 1
    assert moved("postern_identity_check_locks_total") == 1
    assert moved("postern_staff_lockouts_total") == 1
    assert moved("postern_csp_reports_total", directive="script-src-elem") == 1
    assert moved("postern_disputes_total", status="created") == 1
    assert moved("postern_http_requests_total", route="/c/<token>", method="GET", status="200") >= 3
    assert value(after, "postern_queue_depth", queue="outbox") >= 0
    assert value(after, "postern_audit_chain_verified") == 1
