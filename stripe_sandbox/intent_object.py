"""A new PaymentIntent object, from the parameters of ``POST /v1/payment_intents``.

Validation follows Stripe's answers for the parameters Postern sends; the object is built on
the fixture's field set (see fixtures.py) with the values Stripe gives a new card intent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from . import errors, money
from .api import now
from .fixtures import shaped
from .params import Params
from .state import IntentPrivate, new_id

CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
# fmt: off
CREATE_PARAMS = frozenset({
    "amount", "currency", "automatic_payment_methods", "payment_method_types", "capture_method",
    "confirm", "payment_method", "return_url", "description", "metadata", "receipt_email",
    "statement_descriptor", "statement_descriptor_suffix", "payment_method_options",
    "use_stripe_sdk", "payment_method_data",
})
#: What Stripe shows to the publishable key ("retrievable with publishable key" in its docs).
PUBLISHABLE_FIELDS = (
    "id", "object", "amount", "amount_details", "automatic_payment_methods", "canceled_at",
    "cancellation_reason", "capture_method", "client_secret", "confirmation_method", "created",
    "currency", "description", "last_payment_error", "livemode", "next_action",
    "payment_method", "payment_method_types", "processing", "receipt_email",
    "setup_future_usage", "shipping", "status",
)
# fmt: on


def payment_method_options(query: Params, private: IntentPrivate) -> dict[str, Any]:
    """``payment_method_options[card][request_three_d_secure]``: automatic, any or challenge."""
    card = query.nested("payment_method_options", {"card"}).nested(
        "card", {"request_three_d_secure"}
    )
    choice = card.string("request_three_d_secure", choices=("automatic", "any", "challenge"))
    if choice is not None:
        # "challenge" asks for a challenge as "any" does; the sandbox always challenges.
        private.request_three_d_secure = "automatic" if choice == "automatic" else "any"
    return {
        "card": {
            "installments": None,
            "mandate_options": None,
            "network": None,
            "request_three_d_secure": choice or "automatic",
        }
    }


def payment_method_types(query: Params) -> list[str] | None:
    """The requested types; the sandbox, like Postern, takes cards only."""
    types = query.string_list("payment_method_types")
    for kind in types or ():
        if kind != "card":
            raise errors.invalid_request(
                f'The payment method type "{kind}" is invalid. Please ensure the provided '
                "type is activated in your dashboard (https://dashboard.stripe.com/account/"
                "payments/settings) and your account is enabled for any preview features "
                "that you are trying to use.",
                param="payment_method_types",
                saved=False,
            )
    return types


def return_url(query: Params) -> str | None:
    """The ``return_url`` parameter, which must be an absolute http(s) URL as Stripe requires."""
    url = query.string("return_url")
    parts = urlsplit(url or "")
    if url is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise errors.invalid_request("Not a valid URL", param="return_url", saved=False)
    return url


def return_url_needed(intent: dict[str, Any]) -> bool:
    """Whether confirming needs a ``return_url``: Stripe insists when the intent lets the
    Dashboard's payment methods in, since some of them send the customer away to pay."""
    automatic = intent["automatic_payment_methods"]
    return bool(automatic and automatic["enabled"] and automatic["allow_redirects"] != "never")


RETURN_URL_REQUIRED = (
    "A `return_url` must be specified because this Payment Intent is configured to "
    "automatically accept the payment methods enabled in the Dashboard, some of which may "
    "require a full page redirect to succeed. If you do not want to accept redirect-based "
    "payment methods, set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents."
)


def new_intent(query: Params) -> tuple[dict[str, Any], IntentPrivate]:
    """Validate the create parameters; the new intent and its private state, not yet stored."""
    query.reject_unknown(CREATE_PARAMS)
    amount = query.integer("amount", required=True, positive=True) or 0
    currency = money.check_currency(query.string("currency", required=True))
    money.check_charge_amount(amount, currency)
    automatic = query.nested("automatic_payment_methods", {"enabled", "allow_redirects"})
    types = payment_method_types(query)
    if types is not None and "automatic_payment_methods" in query:
        raise errors.invalid_request(
            "You may only specify one of these parameters: automatic_payment_methods, "
            "payment_method_types.",
            param="automatic_payment_methods",
            saved=False,
        )
    # Since 2023-08-16 Stripe enables automatic payment methods unless told otherwise.
    automatic_enabled = types is None and automatic.boolean("enabled") is not False
    allow_redirects = automatic.string("allow_redirects", choices=("always", "never")) or "always"
    if return_url(query) and not query.boolean("confirm"):
        raise errors.invalid_request(
            "The parameter `return_url` can only be used when `confirm` is true.",
            param="return_url",
            saved=False,
        )
    if query.string("statement_descriptor"):
        raise errors.invalid_request(
            "The `statement_descriptor` parameter is not supported for the `card` payment "
            "method type. Use `statement_descriptor_suffix` instead.",
            param="statement_descriptor",
            saved=False,
        )
    intent_id = new_id("pi_")
    private = IntentPrivate()
    intent = shaped(
        "payment_intent",
        {
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": (
                {"allow_redirects": allow_redirects, "enabled": True} if automatic_enabled else None
            ),
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": query.string("capture_method", choices=CAPTURE_METHODS)
            or "automatic_async",
            "client_secret": f"{intent_id}_secret_{new_id('', 25)}",
            "confirmation_method": "automatic",
            "created": now(),
            "currency": currency,
            "customer": None,
            "description": query.string("description"),
            "id": intent_id,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": query.metadata(),
            "next_action": None,
            "object": "payment_intent",
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": (
                {"id": "pmc_sandbox_default", "parent": None} if automatic_enabled else None
            ),
            "payment_method_options": payment_method_options(query, private),
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": query.string("receipt_email"),
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": query.string(
                "statement_descriptor_suffix", max_length=22
            ),
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
            "source": None,
            "excluded_payment_method_types": None,
            "customer_account": None,
            "managed_payments": None,
        },
    )
    return intent, private
