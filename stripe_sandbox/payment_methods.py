"""``/v1/payment_methods``: card PaymentMethods from test card numbers or ready-made test ids.

The card number and CVC are read, checked and forgotten: the stored object, like Stripe's,
keeps only brand, last4, expiry, funding, country and a fingerprint.
"""

from __future__ import annotations

import re
import time
from typing import Any

from . import errors
from .api import api_route, current_sandbox, key_kind, now, params
from .cards import (
    PAYMENT_METHOD_SHORTCUTS,
    TEST_TOKENS,
    WALLET_TOKENS,
    TestCard,
    find_test_card,
    luhn_valid,
)
from .fixtures import shaped
from .params import Params
from .state import Store, new_id

LIVE_CARD_IN_TEST_MODE = (
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing."
)
#: Stripe's answer when an account without raw card data access sends a card number.
RAW_CARD_DATA_REFUSED = (
    "Sending credit card numbers directly to the Stripe API is generally unsafe. We suggest "
    "you use test tokens that map to the test card you are using, see "
    "https://stripe.com/docs/testing. To enable raw card data APIs in test mode, see "
    "https://support.stripe.com/questions/enabling-access-to-raw-card-data-apis."
)
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


def build(
    store: Store,
    card: TestCard,
    exp_month: int,
    exp_year: int,
    *,
    billing_details: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    cvc_given: bool = False,
    wallet: str | None = None,
) -> dict[str, Any]:
    """Store and return a new card PaymentMethod for ``card``.

    Only whether a CVC was given is kept (``cvc_check`` "unchecked"), never the CVC itself.
    ``wallet`` (``google_pay``) marks a card handed over by a wallet.
    """
    details = billing_details or {}
    payment_method = shaped(
        "payment_method",
        {
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": {
                    field: (details.get("address") or {}).get(field) for field in ADDRESS_FIELDS
                },
                "email": details.get("email"),
                "name": details.get("name"),
                "phone": details.get("phone"),
                "tax_id": None,
            },
            "card": {
                "brand": card.brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "unchecked" if cvc_given else None,
                },
                "country": card.country,
                "display_brand": card.brand,
                "exp_month": exp_month,
                "exp_year": exp_year,
                "fingerprint": card.fingerprint,
                "funding": card.funding,
                "generated_from": None,
                "last4": card.last4,
                "networks": {"available": [card.brand], "preferred": None},
                "regulated_status": "unregulated",
                "three_d_secure_usage": {"supported": True},
                "wallet": _wallet(wallet, card),
            },
            "created": now(),
            "customer": None,
            "id": new_id("pm_"),
            "livemode": False,
            "metadata": metadata or {},
            "object": "payment_method",
            "type": "card",
            "customer_account": None,
        },
    )
    store.payment_methods[payment_method["id"]] = payment_method
    store.cards[payment_method["id"]] = card
    return payment_method


#: The last four of the device account number a wallet pays with: a tokenised wallet card's
#: ``dynamic_last4`` differs from the card's own ``last4``, which is what customers and staff
#: know the card by, so a portal mixing the two up shows in its tests.
WALLET_DEVICE_LAST4 = "1881"


def _wallet(wallet: str | None, card: TestCard) -> dict[str, Any] | None:
    """``card.wallet`` as Stripe shows a tokenised wallet card."""
    if wallet is None:
        return None
    return {"dynamic_last4": WALLET_DEVICE_LAST4, wallet: {}, "type": wallet}


def resolve(store: Store, payment_method_id: str, param: str = "payment_method") -> dict[str, Any]:
    """A stored PaymentMethod, or a fresh one for a test id like ``pm_card_visa``.

    As with Stripe, each use of a test id makes a new PaymentMethod with its own ``pm_`` id.
    """
    found = store.payment_methods.get(payment_method_id)
    if found is not None:
        return found
    number = PAYMENT_METHOD_SHORTCUTS.get(payment_method_id)
    card = find_test_card(number) if number else None
    if card is None:
        raise errors.resource_missing("PaymentMethod", payment_method_id, param=param)
    today = time.gmtime()
    return build(store, card, today.tm_mon, today.tm_year + 1)


@api_route("/v1/payment_methods", methods=["POST"], publishable=True)
def create_payment_method() -> dict[str, Any]:
    query = params()
    query.reject_unknown({"type", "card", "billing_details", "metadata", "allow_redisplay"})
    return from_params(query, secret_key=key_kind() == "secret")


def from_params(query: Params, *, secret_key: bool) -> dict[str, Any]:
    """A new card PaymentMethod from ``type``, ``card`` and ``billing_details`` (the body of
    ``POST /v1/payment_methods`` or a ``payment_method_data`` hash).

    ``card`` holds either the card's number, expiry and CVC, which only Stripe.js may send
    (the publishable key), or a test ``token``. Like a Stripe account without raw card data
    access, the secret key is refused card numbers.
    """
    query.string("type", required=True, choices=["card"])
    if "card" not in query:
        raise errors.parameter_missing(query._name("card"))
    card_params = query.nested("card", {"number", "exp_month", "exp_year", "cvc", "token"})
    wallet = None
    if "token" in card_params:
        card, exp_month, exp_year, wallet = _tokenised_card(card_params)
    else:
        if secret_key and "number" in card_params:
            raise errors.invalid_request(RAW_CARD_DATA_REFUSED, saved=False)
        card, exp_month, exp_year = _checked_card(card_params)
    billing = query.nested("billing_details", {"address", "email", "name", "phone"})
    address = billing.nested("address", ADDRESS_FIELDS)
    billing_details = {
        "name": billing.string("name"),
        "email": billing.string("email"),
        "phone": billing.string("phone"),
        "address": {field: address.string(field) for field in ADDRESS_FIELDS},
    }
    return build(
        current_sandbox().store,
        card,
        exp_month,
        exp_year,
        billing_details=billing_details,
        metadata=query.metadata(),
        cvc_given=bool(card_params.string("cvc")),
        wallet=wallet,
    )


def _tokenised_card(card: Params) -> tuple[TestCard, int, int, str | None]:
    """A test token's card, its expiry (next year, as Stripe's test tokens) and its wallet."""
    token = card.string("token", required=True) or ""
    extra = set(card.data) - {"token"}
    if extra:
        raise errors.invalid_request(
            f"You cannot pass {card._name(sorted(extra)[0])} with {card._name('token')}.",
            param=card._name(sorted(extra)[0]),
            saved=False,
        )
    number = TEST_TOKENS.get(token)
    test_card = find_test_card(number) if number else None
    if test_card is None:
        raise errors.resource_missing("token", token, param=card._name("token"))
    today = time.gmtime()
    return test_card, today.tm_mon, today.tm_year + 1, WALLET_TOKENS.get(token)


@api_route("/v1/payment_methods/<payment_method_id>", methods=["GET"])
def retrieve_payment_method(payment_method_id: str) -> dict[str, Any]:
    params().reject_unknown(())
    return resolve(current_sandbox().store, payment_method_id)


def _checked_card(card: Params) -> tuple[TestCard, int, int]:
    """Validate card details with Stripe's card_error codes; the CVC is checked, not kept."""
    number = (card.string("number", required=True) or "").replace(" ", "")
    if not re.fullmatch(r"\d{12,19}", number):
        raise errors.card_error("invalid_number", "Your card number is invalid.", param="number")
    if not luhn_valid(number):
        raise errors.card_error(
            "incorrect_number", "Your card number is incorrect.", param="number"
        )
    exp_month = card.integer("exp_month", required=True) or 0
    exp_year = card.integer("exp_year", required=True) or 0
    if exp_year < 100:  # Stripe accepts two-digit years
        exp_year += 2000
    today = time.gmtime()
    if not 1 <= exp_month <= 12:
        raise errors.card_error(
            "invalid_expiry_month", "Your card's expiration month is invalid.", param="exp_month"
        )
    if exp_year < today.tm_year or exp_year > today.tm_year + 50:
        raise errors.card_error(
            "invalid_expiry_year", "Your card's expiration year is invalid.", param="exp_year"
        )
    if exp_year == today.tm_year and exp_month < today.tm_mon:
        raise errors.card_error(
            "invalid_expiry_month", "Your card's expiration month is invalid.", param="exp_month"
        )
    cvc = card.string("cvc")
    if cvc is not None and not re.fullmatch(r"\d{3,4}", cvc):
        raise errors.card_error("invalid_cvc", "Your card's security code is invalid.", param="cvc")
    test_card = find_test_card(number)
    if test_card is None:
        raise errors.card_error(
            "card_declined", LIVE_CARD_IN_TEST_MODE, decline_code="test_mode_live_card"
        )
    return test_card, exp_month, exp_year
