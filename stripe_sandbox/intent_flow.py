"""The PaymentIntent status machine for cards, as Stripe documents it.

    requires_payment_method --(payment method)--> requires_confirmation --confirm-->
        requires_action (3-D Secure) --authenticate--> succeeded | requires_capture
        succeeded | requires_capture (issuer approves)
        requires_payment_method + last_payment_error (issuer declines, authentication fails)
    requires_capture --capture--> succeeded
    any unfinished status --cancel--> canceled

Every function here is called with the store locked and emits the events Stripe sends for the
change, in Stripe's order. ``processing`` is never entered: card payments do not rest there.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlencode

from . import charges, disputes, errors, payment_methods
from .api import Sandbox, now
from .cards import Decline, TestCard
from .events import emit
from .intent_object import RETURN_URL_REQUIRED, return_url_needed
from .state import IntentPrivate, new_id

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
AUTHENTICATION_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)


def private(sandbox: Sandbox, intent: dict[str, Any]) -> IntentPrivate:
    return sandbox.store.intent_private.setdefault(intent["id"], IntentPrivate())


def confirm(
    sandbox: Sandbox,
    intent: dict[str, Any],
    *,
    payment_method_id: str | None,
    return_url: str | None,
    use_stripe_sdk: bool,
    base_url: str,
) -> None:
    """Confirm ``intent``; raises Stripe's 402 card_error (state already updated) on decline."""
    status = intent["status"]
    if status == "succeeded":
        raise errors.unexpected_state(
            "You cannot confirm this PaymentIntent because it has already succeeded after "
            "being previously confirmed."
        )
    if status not in CONFIRMABLE:
        raise errors.unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of {status}. "
            "Only a PaymentIntent with one of the following statuses may be confirmed: "
            "requires_confirmation, requires_action, requires_payment_method."
        )
    if return_url is None and return_url_needed(intent):
        raise errors.invalid_request(RETURN_URL_REQUIRED, param="return_url", saved=False)
    payment_method_id = payment_method_id or intent["payment_method"]
    if payment_method_id is None:
        raise errors.unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You "
            "can either update the PaymentIntent with a payment method and then confirm it "
            "again, or confirm it again directly with a payment method."
        )
    payment_method = payment_methods.resolve(sandbox.store, payment_method_id)
    card = sandbox.store.cards[payment_method["id"]]
    settings = private(sandbox, intent)
    settings.return_url = return_url
    intent.update(payment_method=payment_method["id"], last_payment_error=None, next_action=None)
    if card.requires_authentication or settings.request_three_d_secure == "any":
        intent["status"] = "requires_action"
        intent["next_action"] = _challenge(intent, base_url, return_url, use_stripe_sdk)
        emit(sandbox, "payment_intent.requires_action", intent)
        return
    _authorize(sandbox, intent, payment_method, card, three_d_secure=None)
    if intent["status"] == "requires_payment_method":
        raise declined_error(intent)


def finish_authentication(sandbox: Sandbox, intent: dict[str, Any], *, authenticated: bool) -> None:
    """The customer's answer on the 3-D Secure page: authorise, or fail the attempt."""
    if intent["status"] != "requires_action":
        raise errors.unexpected_state(
            f"This PaymentIntent is not awaiting authentication; its status is {intent['status']}."
        )
    payment_method = sandbox.store.payment_methods[intent["payment_method"]]
    card = sandbox.store.cards[payment_method["id"]]
    intent["next_action"] = None
    if authenticated:
        _authorize(
            sandbox,
            intent,
            payment_method,
            card,
            three_d_secure=charges.authenticated_three_d_secure(),
        )
        return
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        last_payment_error={
            "code": "payment_intent_authentication_failure",
            "doc_url": f"{errors.DOCS}/error-codes/payment-intent-authentication-failure",
            "message": AUTHENTICATION_FAILED,
            "payment_method": copy.deepcopy(payment_method),
            "type": "invalid_request_error",
        },
    )
    emit(sandbox, "payment_intent.payment_failed", intent)


def capture(
    sandbox: Sandbox,
    intent: dict[str, Any],
    amount_to_capture: int | None,
    *,
    metadata: dict[str, str],
) -> None:
    status = intent["status"]
    if status != "requires_capture":
        raise errors.unexpected_state(
            f"This PaymentIntent could not be captured because it has a status of {status}. "
            "Only a PaymentIntent with one of the following statuses may be captured: "
            "requires_capture."
        )
    capturable = intent["amount_capturable"]
    amount = capturable if amount_to_capture is None else amount_to_capture
    if amount > capturable:
        raise errors.invalid_request(
            f"The amount_to_capture ({amount}) must be less than or equal to the "
            f"amount_capturable ({capturable}).",
            param="amount_to_capture",
            code="amount_too_large",
            saved=False,
        )
    charge = sandbox.store.charges[intent["latest_charge"]]
    # Capturing less than authorised releases the rest, which Stripe shows as refunded.
    charge.update(
        captured=True,
        amount_captured=amount,
        balance_transaction=new_id("txn_"),
        amount_refunded=charge["amount"] - amount,
    )
    intent.update(
        status="succeeded", amount_received=amount, amount_capturable=0, metadata=metadata
    )
    emit(sandbox, "charge.captured", charge)
    emit(sandbox, "payment_intent.succeeded", intent)
    _aftermath(sandbox, charge, sandbox.store.cards[charge["payment_method"]])


def _aftermath(sandbox: Sandbox, charge: dict[str, Any], card: TestCard) -> None:
    """What the dispute test card does once its money is taken: the cardholder disputes it."""
    if card.aftermath == "dispute":
        disputes.open_dispute(sandbox, charge)


def cancel(sandbox: Sandbox, intent: dict[str, Any], reason: str | None) -> None:
    status = intent["status"]
    if status not in CANCELABLE:
        raise errors.unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {status}. Only "
            "a PaymentIntent with one of the following statuses may be canceled: "
            f"{', '.join(CANCELABLE)}."
        )
    if status == "requires_capture":
        # Cancelling an authorisation releases it: the uncaptured charge shows as refunded.
        charge = sandbox.store.charges[intent["latest_charge"]]
        charge.update(amount_refunded=charge["amount"], refunded=True)
        emit(sandbox, "charge.refunded", charge)
    intent.update(
        status="canceled",
        canceled_at=now(),
        cancellation_reason=reason,
        next_action=None,
        amount_capturable=0,
    )
    emit(sandbox, "payment_intent.canceled", intent)


def declined_error(intent: dict[str, Any]) -> errors.StripeError:
    """The 402 answer to a declined confirmation, built from ``last_payment_error``."""
    failure = dict(intent["last_payment_error"])
    failure.pop("type")
    return errors.card_error(
        failure.pop("code"),
        failure.pop("message"),
        decline_code=failure.pop("decline_code", None),
        param=failure.pop("param", None),
        **failure,
    )


def _authorize(
    sandbox: Sandbox,
    intent: dict[str, Any],
    payment_method: dict[str, Any],
    card: TestCard,
    *,
    three_d_secure: dict[str, Any] | None,
) -> None:
    decline = card.decline_reason
    capture_now = intent["capture_method"] != "manual"
    charge = charges.create(
        sandbox.store,
        intent,
        payment_method,
        card,
        decline=decline,
        capture=capture_now,
        three_d_secure=three_d_secure,
    )
    intent["latest_charge"] = charge["id"]
    if decline is not None:
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            last_payment_error=_card_failure(decline, charge, payment_method),
        )
        emit(sandbox, "charge.failed", charge)
        emit(sandbox, "payment_intent.payment_failed", intent)
    elif capture_now:
        intent.update(status="succeeded", amount_received=intent["amount"])
        emit(sandbox, "charge.succeeded", charge)
        emit(sandbox, "payment_intent.succeeded", intent)
        _aftermath(sandbox, charge, card)
    else:
        intent.update(status="requires_capture", amount_capturable=intent["amount"])
        emit(sandbox, "charge.succeeded", charge)
        emit(sandbox, "payment_intent.amount_capturable_updated", intent)


def _card_failure(
    decline: Decline, charge: dict[str, Any], payment_method: dict[str, Any]
) -> dict[str, Any]:
    failure = {
        "charge": charge["id"],
        "code": decline.code,
        "decline_code": decline.decline_code,
        "doc_url": f"{errors.DOCS}/error-codes/{decline.code.replace('_', '-')}",
        "message": decline.message,
        "param": decline.param,
        "payment_method": copy.deepcopy(payment_method),
        "type": "card_error",
    }
    return {key: value for key, value in failure.items() if value is not None}


def _challenge(
    intent: dict[str, Any], base_url: str, return_url: str | None, use_stripe_sdk: bool
) -> dict[str, Any]:
    """``next_action`` for 3-D Secure: Stripe.js opens it in a modal, a server redirects to it."""
    url = f"{base_url}/3ds/{intent['id']}?" + urlencode({"client_secret": intent["client_secret"]})
    if return_url and not use_stripe_sdk:
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": return_url, "url": url},
        }
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url},
    }
