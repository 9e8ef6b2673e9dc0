"""The two CSRF exemptions (portal/security/csrf.py) really let their senders through: Stripe
and browsers' CSP reports post without a form token and are answered by their own checks,
never by the expired-form page."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.payments import WEBHOOK_SECRET, deliver

EXPIRED = "This form has expired"

CSP_REPORT = {
    "csp-report": {
        "document-uri": "https://pay.example/login",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": "default-src 'none'",
        "disposition": "enforce",
        "blocked-uri": "https://evil.example/skim.js",
        "status-code": 200,
    }
}


@pytest.fixture
def fresh_app(app_factory, monkeypatch):
    """An app as a newly started server builds it. Flask-WTF keeps the exempt blueprints on
    the one process-wide ``CSRFProtect``, so an app built earlier in this process would
    otherwise lend its exemptions to this one; start from none, as a new process does."""
    from portal.extensions import csrf

    monkeypatch.setattr(csrf, "_exempt_blueprints", set())
    return app_factory(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)


def test_a_browser_csp_report_is_accepted_without_a_form_token(fresh_app):
    client = fresh_app.test_client()
    response = client.post(
        "/csp-report", data=json.dumps(CSP_REPORT), content_type="application/csp-report"
    )
    assert response.status_code == 204
    assert EXPIRED not in response.get_data(as_text=True)


def test_a_signed_stripe_webhook_is_accepted_without_a_form_token(fresh_app):
    event = {
        "id": "evt_csrf_exempt_1",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "type": "customer.created",
        "data": {"object": {"id": "cus_123", "object": "customer"}},
    }
    response = deliver(fresh_app.test_client(), event)
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "outcome": "ignored"}


def test_every_other_post_is_still_refused_without_a_token(fresh_app):
    response = fresh_app.test_client().post("/login", data={"username": "a", "password": "b"})
    assert response.status_code == 400
    assert EXPIRED in response.get_data(as_text=True)


def test_an_unsigned_stripe_webhook_is_refused_by_its_signature_check(fresh_app):
    response = fresh_app.test_client().post(
        "/webhooks/stripe", data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid signature"}
