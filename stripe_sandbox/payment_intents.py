"""``/v1/payment_intents``: create, retrieve, update, confirm, capture, cancel.

Retrieve and confirm also accept the publishable key with the intent's ``client_secret``, as
Stripe.js uses them; those answers show only the fields Stripe marks "retrievable with
publishable key", so metadata and charges never reach the browser.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import request

from . import errors, intent_flow, money, payment_methods
from .api import api_route, current_sandbox, key_kind, params
from .events import emit
from .intent_object import (
    CAPTURE_METHODS,
    PUBLISHABLE_FIELDS,
    new_intent,
    payment_method_options,
    payment_method_types,
    return_url,
)
from .params import Params
from .responses import created_between, expanded, list_object

CANCELLATION_REASONS = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
# fmt: off
UPDATE_PARAMS = frozenset({
    "amount", "currency", "description", "metadata", "receipt_email", "payment_method",
    "payment_method_types", "capture_method", "statement_descriptor_suffix",
    "payment_method_options",
})
CONFIRM_PARAMS = frozenset({
    "client_secret", "payment_method", "return_url", "use_stripe_sdk", "receipt_email",
    "payment_method_options", "payment_method_data",
})
# fmt: on
#: Fields an update may change only before the payment is under way.
UNSETTLED_ONLY = ("amount", "currency", "payment_method", "payment_method_types", "capture_method")
UNSETTLED = ("requires_payment_method", "requires_confirmation", "requires_action")


def render(intent: dict[str, Any], query: Params) -> dict[str, Any]:
    """The answer for the caller's key: full object, or the publishable-key subset."""
    if key_kind() == "publishable":
        return {field: intent[field] for field in PUBLISHABLE_FIELDS}
    return expanded(current_sandbox().store, intent, query.expand())


@contextlib.contextmanager
def errors_name(intent: dict[str, Any], query: Params) -> Iterator[None]:
    """Stripe's errors about an intent embed it (in the caller's view), like its 402s do."""
    try:
        yield
    except errors.StripeError as error:
        error.fields.setdefault("payment_intent", render(intent, query))
        raise


def find(intent_id: str) -> dict[str, Any]:
    intent = current_sandbox().store.payment_intents.get(intent_id)
    if intent is None:
        raise errors.resource_missing("payment_intent", intent_id, param="intent")
    return intent


def check_client_secret(intent: dict[str, Any], query: Params) -> None:
    """The publishable key may act on an intent only with that intent's client secret."""
    secret = query.string("client_secret")
    if secret is None:
        if key_kind() == "publishable":
            raise errors.publishable_key_refused()
        return
    if secret != intent["client_secret"]:
        raise errors.invalid_request(
            "The client_secret provided does not match the client_secret associated with "
            "the PaymentIntent.",
            param="client_secret",
            saved=False,
        )


def _confirm(intent: dict[str, Any], query: Params, payment_method_id: str | None) -> None:
    intent_flow.confirm(
        current_sandbox(),
        intent,
        payment_method_id=payment_method_id,
        return_url=return_url(query),
        use_stripe_sdk=bool(query.boolean("use_stripe_sdk")),
        base_url=request.host_url.rstrip("/"),
    )


@api_route("/v1/payment_intents", methods=["POST"])
def create_payment_intent() -> dict[str, Any]:
    query = params()
    sandbox = current_sandbox()
    intent, private = new_intent(query)
    payment_method_id = _payment_method_of(query)
    if payment_method_id:
        payment_method = payment_methods.resolve(sandbox.store, payment_method_id)
        intent.update(payment_method=payment_method["id"], status="requires_confirmation")
    sandbox.store.payment_intents[intent["id"]] = intent
    sandbox.store.intent_private[intent["id"]] = private
    emit(sandbox, "payment_intent.created", intent)
    if query.boolean("confirm"):
        with errors_name(intent, query):
            _confirm(intent, query, None)
    return render(intent, query)


@api_route("/v1/payment_intents", methods=["GET"])
def list_payment_intents() -> dict[str, Any]:
    """Newest first; ``created[gte]``/``created[lte]`` (and gt, lt) bound the creation time."""
    query = params()
    query.reject_unknown({"created", "limit", "starting_after", "ending_before"})
    store = current_sandbox().store
    found = created_between(query, list(reversed(store.payment_intents.values())))
    return list_object(store, "/v1/payment_intents", found, query)


@api_route("/v1/payment_intents/<intent_id>", methods=["GET"], publishable=True)
def retrieve_payment_intent(intent_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown({"client_secret"})
    intent = find(intent_id)
    check_client_secret(intent, query)
    return render(intent, query)


@api_route("/v1/payment_intents/<intent_id>", methods=["POST"])
def update_payment_intent(intent_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown(UPDATE_PARAMS)
    intent = find(intent_id)
    with errors_name(intent, query):
        intent.update(_changes(intent, query))
    return render(intent, query)


def _changes(intent: dict[str, Any], query: Params) -> dict[str, Any]:
    """The fields an update sets, all validated before any is applied."""
    for field in UNSETTLED_ONLY:
        if field in query and intent["status"] not in UNSETTLED:
            raise errors.unexpected_state(
                f"This PaymentIntent's {field} could not be updated because it has a status "
                f"of {intent['status']}. You may only update the {field} of a PaymentIntent "
                f"with one of the following statuses: {', '.join(UNSETTLED)}.",
                saved=False,
            )
    changes: dict[str, Any] = {"metadata": query.metadata(intent["metadata"])}
    if "amount" in query:
        changes["amount"] = query.integer("amount", positive=True)
    if "currency" in query:
        changes["currency"] = money.check_currency(query.string("currency"))
    money.check_charge_amount(
        changes.get("amount", intent["amount"]), changes.get("currency", intent["currency"])
    )
    for field in ("description", "receipt_email", "statement_descriptor_suffix"):
        if field in query:
            changes[field] = query.string(field)
    if "capture_method" in query:
        changes["capture_method"] = query.string("capture_method", choices=CAPTURE_METHODS)
    if payment_method_types(query):
        changes["payment_method_types"] = ["card"]
    if "payment_method_options" in query:
        private = intent_flow.private(current_sandbox(), intent)
        changes["payment_method_options"] = payment_method_options(query, private)
    if query.string("payment_method"):
        store = current_sandbox().store
        payment_method = payment_methods.resolve(store, query.string("payment_method"))
        changes.update(
            payment_method=payment_method["id"], next_action=None, status="requires_confirmation"
        )
    return changes


@api_route("/v1/payment_intents/<intent_id>/confirm", methods=["POST"], publishable=True)
def confirm_payment_intent(intent_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown(CONFIRM_PARAMS)
    intent = find(intent_id)
    with errors_name(intent, query):
        check_client_secret(intent, query)
        if "receipt_email" in query:
            intent["receipt_email"] = query.string("receipt_email")
        if "payment_method_options" in query:
            private = intent_flow.private(current_sandbox(), intent)
            intent["payment_method_options"] = payment_method_options(query, private)
        _confirm(intent, query, _payment_method_of(query))
    return render(intent, query)


def _payment_method_of(query: Params) -> str | None:
    """The ``payment_method`` id, or the id of one made from ``payment_method_data`` (card
    numbers only from Stripe.js, as with Stripe: see payment_methods.from_params)."""
    if "payment_method_data" not in query:
        return query.string("payment_method")
    if query.string("payment_method"):
        raise errors.invalid_request(
            "You cannot provide both `payment_method` and `payment_method_data`.",
            param="payment_method_data",
            saved=False,
        )
    data = query.nested("payment_method_data", {"type", "card", "billing_details", "metadata"})
    return payment_methods.from_params(data, secret_key=key_kind() == "secret")["id"]


@api_route("/v1/payment_intents/<intent_id>/capture", methods=["POST"])
def capture_payment_intent(intent_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown({"amount_to_capture", "metadata"})
    intent = find(intent_id)
    with errors_name(intent, query):
        amount = query.integer("amount_to_capture", positive=True)
        metadata = query.metadata(intent["metadata"])
        intent_flow.capture(current_sandbox(), intent, amount, metadata=metadata)
    return render(intent, query)


@api_route("/v1/payment_intents/<intent_id>/cancel", methods=["POST"])
def cancel_payment_intent(intent_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown({"cancellation_reason"})
    intent = find(intent_id)
    with errors_name(intent, query):
        reason = query.string("cancellation_reason", choices=CANCELLATION_REASONS)
        intent_flow.cancel(current_sandbox(), intent, reason)
    return render(intent, query)
