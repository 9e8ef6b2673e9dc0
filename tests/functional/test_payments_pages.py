"""The customer's payment pages (/c/<token>/pay, /pay/status, /pay/return, /paid) against the
Stripe sandbox: who gets a PaymentIntent, what the pages say, and which page may load Stripe."""

from __future__ import annotations

import re

from tests.support.capture import create_direct, expire, path_of, press_start
from tests.support.payments import (
    arm_fault,
    confirm_in_browser,
    created_intents,
    customer_at_payment,
    load_payment,
    stripe_api,
)
from tests.support.web import login, post_form


def intent_id_of(app, customer) -> str:
    return load_payment(app, customer.public_id)[1].stripe_payment_intent_id


def test_payment_page_mounts_stripe_from_data_attributes(pay_app, customer, stripe_sandbox):
    page = customer.client.get(customer.pay_path)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    assert secret.startswith(intent_id_of(pay_app, customer) + "_secret_")
    assert f'data-publishable-key="{stripe_sandbox.publishable_key}"' in html
    assert "£12.50" in html and 'aria-live="polite"' in html
    # Every script is a file with the nonce; nothing inline, nothing from a CDN.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert [body.strip() for _, body in scripts] == ["", ""]
    assert all('nonce="' in attrs and 'src="' in attrs for attrs, _ in scripts)
    assert f'src="{stripe_sandbox.js_url}"' in html
    assert page.headers["Cache-Control"] == "no-store"


def test_only_the_payment_page_lets_stripe_in(pay_app, customer, stripe_sandbox):
    origin = stripe_sandbox.url
    pay = customer.client.get(customer.pay_path)
    policy = dict(
        part.strip().split(" ", 1) for part in pay.headers["Content-Security-Policy"].split(";")
    )
    for directive in ("script-src", "frame-src", "connect-src"):
        assert origin in policy[directive], directive
    assert "'nonce-" in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'none'"

    base = path_of(customer.url)
    for path in (base, base + "/summary", base + "/pay/status", "/login"):
        response = customer.client.get(path)
        assert origin not in response.headers.get("Content-Security-Policy", ""), path
    # A second app in the same process gets its own policy, not the first one's.
    other = pay_app.test_client()
    assert origin not in other.get("/login").headers["Content-Security-Policy"]


def test_provider_outage_says_so_plainly_and_loses_nothing(pay_app, customer, stripe_sandbox):
    arm_fault(stripe_sandbox, "500", count=3, path_prefix="/v1/payment_intents")

    page = customer.client.get(customer.pay_path)

    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert "No money has been taken" in text and "your link still works" in text
    assert "Traceback" not in text and "stripe" not in text.lower().replace("stripe.", "")
    request, payment = load_payment(pay_app, customer.public_id)
    assert request.status == "verified" and payment.status == "creating"

    assert customer.client.get(customer.pay_path).status_code == 200
    assert len(created_intents(stripe_sandbox)) == 1


def test_success_is_learned_from_stripe_and_confirmed(pay_app, customer, stripe_sandbox):
    customer.client.get(customer.pay_path)
    confirm_in_browser(stripe_sandbox, intent_id_of(pay_app, customer), "pm_card_visa")

    status = customer.client.get(customer.pay_path + "/status")
    assert status.status_code == 200 and status.get_json()["state"] == "succeeded"

    again = customer.client.get(customer.pay_path)
    assert again.status_code == 303 and again.headers["Location"].endswith("/paid")
    paid = customer.client.get(path_of(customer.url) + "/paid")
    text = paid.get_data(as_text=True)
    assert paid.status_code == 200 and "Payment received" in text
    assert "Visa ending 4242" in text and "£12.50" in text
    request, payment = load_payment(pay_app, customer.public_id)
    assert request.status == "succeeded"
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert payment.card_exp_month and payment.card_exp_year


def test_a_decline_is_explained_in_plain_words(pay_app, customer, stripe_sandbox):
    customer.client.get(customer.pay_path)
    intent_id = intent_id_of(pay_app, customer)
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclinedInsufficientFunds")

    status = customer.client.get(customer.pay_path + "/status").get_json()

    assert status["state"] == "ready"
    assert "not enough money" in status["message"]
    assert status["attempts_left"] == pay_app.config["PAYMENT_MAX_ATTEMPTS"] - 1
    page = customer.client.get(customer.pay_path).get_data(as_text=True)
    assert "not enough money" in page


def test_return_url_trusts_stripe_not_the_query(pay_app, customer, stripe_sandbox):
    customer.client.get(customer.pay_path)
    intent_id = intent_id_of(pay_app, customer)
    forged = customer.client.get(
        customer.pay_path + f"/return?payment_intent={intent_id}&redirect_status=succeeded"
    )
    assert forged.status_code == 303 and forged.headers["Location"].endswith("/pay")
    assert load_payment(pay_app, customer.public_id)[0].status == "verified"

    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    back = customer.client.get(
        customer.pay_path + f"/return?payment_intent={intent_id}&redirect_status=succeeded"
    )
    assert back.status_code == 303 and back.headers["Location"].endswith("/paid")


def test_expiry_on_the_payment_page_cancels_the_intent(pay_app, customer, stripe_sandbox):
    customer.client.get(customer.pay_path)
    intent_id = intent_id_of(pay_app, customer)
    expire(pay_app, customer.public_id)

    status = customer.client.get(customer.pay_path + "/status")
    assert status.status_code == 410 and status.get_json()["state"] == "closed"
    assert stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")["status"] == (
        "canceled"
    )
    page = customer.client.get(customer.pay_path)
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    request, payment = load_payment(pay_app, customer.public_id)
    assert request.status == "expired" and payment.status == "canceled"


def test_no_intent_before_the_customer_proved_who_they_are(pay_app, make_staff, stripe_sandbox):
    client = pay_app.test_client()
    _, url = create_direct(pay_app, make_staff("agent").id)
    press_start(client, url)

    page = client.get(path_of(url) + "/pay")

    assert page.status_code == 303 and page.headers["Location"].endswith(path_of(url))
    assert created_intents(stripe_sandbox) == []


def test_another_browser_cannot_use_the_payment_page(pay_app, customer, stripe_sandbox):
    """Without the binding cookie: back to the landing page (whose Start says "used on
    another device"), a closed status, and no PaymentIntent for anyone."""
    stranger = pay_app.test_client()

    for path in (customer.pay_path, customer.pay_path + "/return", path_of(customer.url) + "/paid"):
        response = stranger.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].endswith(path_of(customer.url)), path
    status = stranger.get(customer.pay_path + "/status")
    assert status.status_code == 410 and status.get_json() == {"state": "closed", "message": None}
    assert created_intents(stripe_sandbox) == []


def test_a_data_only_request_has_no_payment_page(pay_app, make_staff, stripe_sandbox):
    customer = customer_at_payment(
        pay_app,
        make_staff("agent").id,
        kind="data",
        field_set="address",
        amount_minor=None,
        currency=None,
    )

    page = customer.client.get(customer.pay_path)

    assert page.status_code == 303 and page.headers["Location"].endswith("/summary")
    assert created_intents(stripe_sandbox) == []


def test_an_agent_revoking_mid_payment_cancels_the_intent_at_once(
    pay_app, make_staff, stripe_sandbox
):
    """Revocation during payment: the PaymentIntent is canceled at Stripe by the revoke itself,
    not later, so the customer's still-open page can never charge the card."""
    agent = make_staff("agent")
    customer = customer_at_payment(pay_app, agent.id)
    customer.client.get(customer.pay_path)
    intent_id = intent_id_of(pay_app, customer)

    agent_client = pay_app.test_client()
    login(agent_client, agent)
    revoked = post_form(
        agent_client, f"/agent/requests/{customer.public_id}/revoke", {}, page="/agent/"
    )

    assert revoked.status_code == 302
    intent = stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")
    assert intent["status"] == "canceled"
    request, payment = load_payment(pay_app, customer.public_id)
    assert request.status == "revoked" and payment.status == "canceled"


def test_the_page_words_cover_cards_and_wallets(pay_app, customer):
    html = customer.client.get(customer.pay_path).get_data(as_text=True)
    assert "Type your card details below." not in html
    assert "Type your card details below, or use Apple Pay or Google Pay." in html


def _lower_amount(app, public_id: str, amount_minor: int) -> None:
    """A request made before Stripe's limits were checked at creation (or before a limit
    changed): its amount is written straight into the row, as an old row would hold it."""
    from sqlalchemy import update

    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        db.session.execute(
            update(CaptureRequest)
            .where(CaptureRequest.public_id == public_id)
            .values(amount_minor=amount_minor)
        )
        db.session.commit()


def test_an_amount_stripe_refuses_is_explained_not_called_an_outage(
    pay_app, customer, stripe_sandbox
):
    """Never "card payments are not available right now" for an amount no retry can pay: the
    customer is told plainly, Stripe is not even asked, and the refusal is audited."""
    from tests.support.capture import audit_actions

    _lower_amount(pay_app, customer.public_id, 29)

    page = customer.client.get(customer.pay_path)

    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "This payment cannot be taken by card" in text
    assert "Please speak to the person who sent you the link" in text
    assert "not available right now" not in text
    assert created_intents(stripe_sandbox) == []
    assert "payment.amount_refused" in audit_actions(pay_app, customer.public_id)


def test_stripes_own_amount_refusal_is_explained_too(
    pay_app, customer, stripe_sandbox, monkeypatch
):
    """Were Postern's limits behind Stripe's, Stripe's amount_too_small would still reach the
    customer as a plain explanation, not as an outage."""
    from portal import charge_limits

    monkeypatch.setitem(charge_limits.STRIPE_MINIMUMS, "GBP", 1)
    _lower_amount(pay_app, customer.public_id, 29)

    page = customer.client.get(customer.pay_path)

    assert page.status_code == 422
    assert "This payment cannot be taken by card" in page.get_data(as_text=True)
    assert created_intents(stripe_sandbox) == []
