"""portal.payments.service against the real Stripe sandbox, over HTTP, through the SDK.

"Exactly one PaymentIntent" is read from the sandbox's own record of the API calls it carried
out (``/_sandbox/requests``): idempotent replays do not count, as at Stripe.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support.capture import audit_actions, expire
from tests.support.payments import (
    arm_fault,
    created_intents,
    customer_at_payment,
    load_payment,
    sandbox_settings,
    stripe_api,
)


def checkout(app, public_id):
    from portal.audit import CUSTOMER
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.payments import service
    from portal.payments.gateway import StripeGateway

    with app.app_context():
        request = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        view = service.start_checkout(request, gateway=StripeGateway.for_app(), actor=CUSTOMER)
        db.session.remove()
        return view


def test_checkout_creates_one_intent_and_a_reload_reuses_it(pay_app, customer, stripe_sandbox):
    first = checkout(pay_app, customer.public_id)
    again = checkout(pay_app, customer.public_id)

    assert first.state == "ready" and first.client_secret
    assert again.client_secret == first.client_secret
    created = created_intents(stripe_sandbox)
    assert len(created) == 1
    call = created[0]
    assert call["idempotency_key"] == f"postern-pi-{customer.public_id}-1"
    # The server decided the amount; metadata links the intent back to our request.
    assert call["params"]["amount"] == "1250"
    assert call["params"]["currency"] == "gbp"
    # Cards only, named explicitly (PAYMENT_METHOD_TYPES), never whatever the Dashboard enables.
    assert call["params"]["payment_method_types[0]"] == "card"
    assert not any(name.startswith("automatic_payment_methods") for name in call["params"])
    assert call["params"]["metadata[postern_request]"] == customer.public_id
    assert call["params"]["metadata[postern_reference]"] == "ACC-1001"
    request, payment = load_payment(pay_app, customer.public_id)
    assert call["params"]["metadata[postern_agent]"] == str(request.created_by_id)
    assert payment.stripe_payment_intent_id == first.client_secret.split("_secret_")[0]
    assert payment.status == "requires_payment_method"
    assert request.status == "verified"
    assert audit_actions(pay_app, customer.public_id).count("payment.intent_created") == 1


def test_double_click_from_two_processes_makes_one_intent(pay_app, customer, stripe_sandbox):
    """Two requests for the page at the same moment: one payment row, one PaymentIntent."""
    results, errors = [], []
    start = threading.Barrier(2)

    def open_page():
        try:
            start.wait(timeout=5)
            results.append(checkout(pay_app, customer.public_id).client_secret)
        except Exception as problem:  # noqa: BLE001 - reported by the assertion below
            errors.append(problem)

    threads = [threading.Thread(target=open_page) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert len(results) == 2 and results[0] == results[1]
    assert len(created_intents(stripe_sandbox)) == 1


@pytest.mark.parametrize("mode", ["500", "timeout", "drop"])
def test_a_lost_or_failed_call_is_retried_into_one_intent(pay_app, customer, stripe_sandbox, mode):
    arm_fault(stripe_sandbox, mode, path_prefix="/v1/payment_intents")

    view = checkout(pay_app, customer.public_id)

    assert view.state == "ready"
    assert len(created_intents(stripe_sandbox)) == 1
    _, payment = load_payment(pay_app, customer.public_id)
    assert payment.stripe_payment_intent_id is not None


def test_rate_limited_then_retried_by_the_customer_still_one_intent(
    pay_app, customer, stripe_sandbox
):
    from portal.payments.gateway import ProviderUnavailable

    arm_fault(stripe_sandbox, "429", path_prefix="/v1/payment_intents")
    with pytest.raises(ProviderUnavailable):
        checkout(pay_app, customer.public_id)
    _, payment = load_payment(pay_app, customer.public_id)
    assert payment.status == "creating" and payment.stripe_payment_intent_id is None

    assert checkout(pay_app, customer.public_id).state == "ready"
    assert len(created_intents(stripe_sandbox)) == 1


def test_a_lost_answer_then_giving_up_then_reloading_still_one_intent(
    pay_app, customer, stripe_sandbox
):
    """Stripe carried out the create but every answer was lost (more than the SDK retries):
    the reload's create, with the same idempotency key, gets that same intent."""
    from portal.payments.gateway import ProviderUnavailable

    arm_fault(stripe_sandbox, "drop", count=3, path_prefix="/v1/payment_intents")
    with pytest.raises(ProviderUnavailable):
        checkout(pay_app, customer.public_id)

    assert checkout(pay_app, customer.public_id).state == "ready"
    assert len(created_intents(stripe_sandbox)) == 1


def test_closing_the_request_cancels_the_intent_at_stripe(pay_app, customer, stripe_sandbox):
    from portal.audit import SYSTEM
    from portal.capture import service as capture_service
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.payments import service
    from portal.payments.gateway import StripeGateway

    checkout(pay_app, customer.public_id)
    _, payment = load_payment(pay_app, customer.public_id)
    with pay_app.app_context():
        request = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == customer.public_id)
        ).scalar_one()
        capture_service.revoke(request, actor=SYSTEM)
        db.session.commit()
        outcome = service.stop_if_closed(request, gateway=StripeGateway.for_app(), actor=SYSTEM)
        assert outcome is not None and outcome.payment_after == "canceled"

    intent = stripe_api(
        stripe_sandbox, "GET", f"/v1/payment_intents/{payment.stripe_payment_intent_id}"
    )
    assert intent["status"] == "canceled"
    request, payment = load_payment(pay_app, customer.public_id)
    assert payment.status == "canceled" and payment.cancellation_reason == "request_revoked"
    assert request.status == "revoked"
    assert "payment.canceled" in audit_actions(pay_app, customer.public_id)


def test_overdue_while_nothing_is_under_way_is_stopped(pay_app, customer, stripe_sandbox):
    """A request that went in progress (3-D Secure failed) and then ran past its expiry:
    its intent is canceled and the request fails, never left open to a late charge."""
    from portal.audit import CUSTOMER
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.payments import service
    from portal.payments.gateway import StripeGateway
    from tests.support.payments import answer_challenge, confirm_in_browser

    checkout(pay_app, customer.public_id)
    _, payment = load_payment(pay_app, customer.public_id)
    intent_id = payment.stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_authenticationRequired")
    checkout(pay_app, customer.public_id)  # learns "requires_action": in progress
    answer_challenge(stripe_sandbox, intent_id, complete=False)
    assert load_payment(pay_app, customer.public_id)[0].status == "in_progress"

    expire(pay_app, customer.public_id, ago=timedelta(minutes=1))
    with pay_app.app_context():
        request = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == customer.public_id)
        ).scalar_one()
        view = service.current_view(request, gateway=StripeGateway.for_app(), actor=CUSTOMER)
        assert view.state == "failed"

    assert stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")["status"] == (
        "canceled"
    )
    request, payment = load_payment(pay_app, customer.public_id)
    assert request.status == "failed" and request.status_reason == "expired_during_payment"
    assert payment.three_d_secure == "failed" and payment.failed_attempts == 1


def test_too_many_declines_stop_the_payment(app_factory, stripe_sandbox, make_staff):
    from tests.support.payments import confirm_in_browser

    app = app_factory(**sandbox_settings(stripe_sandbox, PAYMENT_MAX_ATTEMPTS=2))
    customer = customer_at_payment(app, make_staff("agent").id)
    checkout(app, customer.public_id)
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id

    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    view = checkout(app, customer.public_id)
    assert view.state == "ready" and view.attempts_left == 1
    assert "declined" in view.message
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclinedInsufficientFunds")
    view = checkout(app, customer.public_id)

    assert view.state == "failed"
    assert stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")["status"] == (
        "canceled"
    )
    request, payment = load_payment(app, customer.public_id)
    assert payment.failed_attempts == 2 and payment.decline_code == "insufficient_funds"
    assert request.status == "failed" and request.status_reason == "too_many_attempts"
    actions = audit_actions(app, customer.public_id)
    assert actions.count("payment.failed") == 2
    # Audit rows are written after Stripe was asked to cancel, yet in the order things happened.
    assert actions[-3:] == ["payment.failed", "payment.canceled", "capture.failed"]
