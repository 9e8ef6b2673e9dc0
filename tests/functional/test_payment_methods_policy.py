"""Payment methods as an explicit policy (PAYMENT_METHOD_TYPES): cards only by default, wallets
(Apple Pay, Google Pay) as cards, the Payment Request API allowed on the payment page alone,
and Apple Pay's domain-association file served from configuration."""

from __future__ import annotations

import pytest

from tests.support.capture import path_of
from tests.support.payments import (
    confirm_in_browser,
    load_payment,
    stripe_api,
)

APPLE_PAY_PATH = "/.well-known/apple-developer-merchantid-domain-association"


def intent_id_of(app, customer) -> str:
    return load_payment(app, customer.public_id)[1].stripe_payment_intent_id


def permissions(response) -> dict[str, str]:
    header = response.headers["Permissions-Policy"]
    return dict(part.strip().split("=", 1) for part in header.split(","))


def test_the_intent_takes_cards_only(pay_app, customer, stripe_sandbox):
    customer.client.get(customer.pay_path)
    intent = stripe_api(
        stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id_of(pay_app, customer)}"
    )
    assert intent["payment_method_types"] == ["card"]
    assert intent["automatic_payment_methods"] is None


def test_only_the_payment_page_lets_stripe_ask_for_a_wallet(pay_app, customer, stripe_sandbox):
    from portal.payment_page.page_check import Snapshot, rule_breaches

    pay = customer.client.get(customer.pay_path)
    js_origin = stripe_sandbox.js_url.rsplit("/v3/", 1)[0]
    policy = permissions(pay)
    assert policy["payment"] == f'(self "{js_origin}")'
    assert all(value == "()" for feature, value in policy.items() if feature != "payment")
    # The integrity check of the payment page accepts it as it is served.
    snapshot = Snapshot("/c/<token>/pay", {name: pay.headers.get(name) for name in (
        "Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options",
        "Permissions-Policy")})  # fmt: skip
    assert rule_breaches(snapshot, https=False) == []

    base = path_of(customer.url)
    for path in (base, base + "/summary", base + "/pay/status", "/login", "/healthz"):
        response = customer.client.get(path)
        assert permissions(response)["payment"] == "()", path


def test_a_wallet_payment_keeps_the_cards_brand_and_last_four(pay_app, customer, stripe_sandbox):
    """The sandbox's test wallet (Google Pay) hands over a tokenised card, confirmed as the
    card form confirms; what staff see is the card's brand and last four, and the audit trail
    says which wallet, nothing more."""
    from tests.support.capture import audit_actions

    customer.client.get(customer.pay_path)
    wallet_card = stripe_api(stripe_sandbox, "POST", "/v1/payment_methods", type="card",
                             **{"card[token]": "tok_sandbox_google_pay"})  # fmt: skip
    confirm_in_browser(stripe_sandbox, intent_id_of(pay_app, customer), wallet_card["id"])

    status = customer.client.get(customer.pay_path + "/status").get_json()

    assert status["state"] == "succeeded"
    # The wallet pays with a device number whose last four differ from the card's own.
    assert wallet_card["card"]["wallet"]["dynamic_last4"] != wallet_card["card"]["last4"]
    request, payment = load_payment(pay_app, customer.public_id)
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert request.status == "succeeded"
    assert "payment.succeeded" in audit_actions(pay_app, customer.public_id)
    assert succeeded_details(pay_app, customer.public_id)["wallet"] == "google_pay"


def succeeded_details(app, public_id: str) -> dict:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        return dict(
            db.session.execute(
                select(AuditEvent.details).where(
                    AuditEvent.target_id == public_id, AuditEvent.action == "payment.succeeded"
                )
            ).scalar_one()
        )


def test_the_apple_pay_domain_file_is_not_found_while_unset(client):
    answer = client.get(APPLE_PAY_PATH)
    assert answer.status_code == 404


def test_the_apple_pay_domain_file_is_served_from_configuration(app_factory, tmp_path):
    association = tmp_path / "apple-developer-merchantid-domain-association"
    association.write_bytes(b"7B2270737049...test association file\n")
    app = app_factory(APPLE_PAY_DOMAIN_ASSOCIATION_FILE=str(association))
    client = app.test_client()

    answer = client.get(APPLE_PAY_PATH)

    assert answer.status_code == 200
    assert answer.get_data() == association.read_bytes()
    assert answer.mimetype == "text/plain"
    assert answer.cache_control.public and answer.cache_control.max_age == 3600
    assert "no-store" not in answer.headers["Cache-Control"]
    assert "Set-Cookie" not in answer.headers  # no session, for Apple or anyone
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    # Conditional requests are answered without the body.
    again = client.get(APPLE_PAY_PATH, headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304
    # A file that has gone since start-up: not found, not an error page.
    association.unlink()
    assert client.get(APPLE_PAY_PATH).status_code == 404


def test_a_relative_apple_pay_file_path_is_read_from_the_working_directory(
    app_factory, tmp_path, monkeypatch
):
    """The path is checked at start-up against the working directory, as an operator expects;
    the file served must be that same one, not one looked for inside the application."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wallets").mkdir()
    association = tmp_path / "wallets" / "association.txt"
    association.write_bytes(b"relative path association file\n")

    app = app_factory(APPLE_PAY_DOMAIN_ASSOCIATION_FILE="wallets/association.txt")
    answer = app.test_client().get(APPLE_PAY_PATH)

    assert app.config["APPLE_PAY_DOMAIN_ASSOCIATION_FILE"] == str(association)
    assert answer.status_code == 200
    assert answer.get_data() == association.read_bytes()


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"PAYMENT_METHOD_TYPES": ["card", "klarna"]}, "'klarna' is not a payment method type"),
        ({"PAYMENT_METHOD_TYPES": []}, "must name at least one type"),
        (
            {"APPLE_PAY_DOMAIN_ASSOCIATION_FILE": "/nonexistent/association"},
            "POSTERN_APPLE_PAY_DOMAIN_ASSOCIATION_FILE does not name an existing file",
        ),
    ],
)
def test_an_unknown_payment_method_type_stops_the_start(app_factory, settings, problem):
    from config.settings import ConfigError, ProductionConfig, payment_policy_problems

    with pytest.raises(ConfigError, match=problem):
        app_factory(**settings)
    # Production refuses it with its other checks.
    assert any(problem in line for line in payment_policy_problems(settings | {
        "PAYMENT_METHOD_TYPES": settings.get("PAYMENT_METHOD_TYPES", ["card"])}))  # fmt: skip
    with pytest.raises(ConfigError, match=problem):
        ProductionConfig.validate({**settings})


def test_the_payment_permission_names_the_configured_stripe_js_origin_only():
    from config.csp import PERMISSIONS_POLICY, payment_page_permissions_policy

    real = payment_page_permissions_policy("https://js.stripe.com/v3/")
    assert real["payment"] == '(self "https://js.stripe.com")'
    assert {k: v for k, v in real.items() if k != "payment"} == {
        k: v for k, v in PERMISSIONS_POLICY.items() if k != "payment"
    }
    # No usable origin configured: nothing is opened up, and the shared policy is untouched.
    assert payment_page_permissions_policy("not a url")["payment"] == "()"
    assert PERMISSIONS_POLICY["payment"] == "()"
