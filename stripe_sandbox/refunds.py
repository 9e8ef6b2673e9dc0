"""``/v1/refunds``: full and partial refunds of a succeeded charge, by PaymentIntent or charge.

Card refunds succeed at once. As with Stripe, the acquirer reference number (ARN) arrives a
moment later, announced by ``refund.updated``; the sandbox assigns it straight after creation.
Stripe's refund test cards behave as documented: a refund of a 4000 0000 0000 7726 charge
starts ``pending``, one of a 4000 0000 0000 5126 charge starts ``succeeded`` and later fails.
"Later" is when the test harness says (:func:`advance`), never a timer.

Every change emits ``refund.*`` and ``charge.refund.updated`` whatever the endpoint's API
version (real Stripe sends ``refund.*`` for card refunds only from API version 2024-10-28).
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from . import charges, disputes, errors, money
from .api import Sandbox, api_route, current_sandbox, now, params
from .events import emit
from .fixtures import shaped
from .responses import expanded, list_object, matching
from .state import new_id

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
#: Why a refund of the refund-fails test card fails, as Stripe reports it.
FAILURE_REASON = "expired_or_canceled_card"


def _refundable_charge(payment_intent_id: str | None, charge_id: str | None) -> dict[str, Any]:
    """The charge a refund request names, checked to be one Stripe would refund."""
    store = current_sandbox().store
    if payment_intent_id is None and charge_id is None:
        raise errors.invalid_request(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            saved=False,
        )
    if payment_intent_id is not None:
        intent = store.payment_intents.get(payment_intent_id)
        if intent is None:
            raise errors.resource_missing(
                "payment_intent", payment_intent_id, param="payment_intent"
            )
        if intent["status"] != "succeeded":
            raise errors.invalid_request(
                f"This PaymentIntent ({payment_intent_id}) does not have a successful charge "
                "to refund.",
                param="payment_intent",
            )
        charge_id_of_intent = intent["latest_charge"]
        if charge_id is not None and charge_id != charge_id_of_intent:
            raise errors.invalid_request(
                f"The charge {charge_id} does not belong to the PaymentIntent {payment_intent_id}.",
                param="charge",
            )
        charge_id = charge_id_of_intent
    charge = store.charges.get(charge_id or "")
    if charge is None:
        raise errors.resource_missing("charge", charge_id or "", param="charge")
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise errors.invalid_request(
            f"Charge {charge['id']} has not been captured or did not succeed, so it cannot be "
            "refunded. Cancel its PaymentIntent to release an authorisation.",
            param="charge",
        )
    disputes.refuse_refund_if_disputed(store.disputes, charge)
    return charge


@api_route("/v1/refunds", methods=["POST"])
def create_refund() -> dict[str, Any]:
    query = params()
    query.reject_unknown({"payment_intent", "charge", "amount", "reason", "metadata"})
    amount = query.integer("amount", positive=True)
    reason = query.string("reason", choices=REASONS)
    metadata = query.metadata()
    charge = _refundable_charge(query.string("payment_intent"), query.string("charge"))
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise errors.invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = remaining if amount is None else amount
    if amount > remaining:
        currency = charge["currency"]
        raise errors.invalid_request(
            f"Refund amount ({money.format_amount(amount, currency)}) is greater than "
            f"unrefunded amount on charge ({money.format_amount(remaining, currency)})",
            param="amount",
        )
    sandbox = current_sandbox()
    aftermath = _aftermath(sandbox, charge)
    refund = shaped(
        "refund",
        {
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": now(),
            "currency": charge["currency"],
            "destination_details": {
                "type": "card",
                "card": {
                    "reference_status": "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
            },
            "id": new_id("re_"),
            "metadata": metadata,
            "object": "refund",
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "pending" if aftermath == "refund_pending" else "succeeded",
            "transfer_reversal": None,
            "customer": None,
            "customer_account": None,
            "payment_method": charge["payment_method"],
        },
    )
    sandbox.store.refunds[refund["id"]] = refund
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charges.sync_refunds(sandbox.store, charge)
    answer = expanded(sandbox.store, refund, query.expand())
    emit(sandbox, "refund.created", refund)
    emit(sandbox, "charge.refund.updated", refund)
    emit(sandbox, "charge.refunded", charge)
    if refund["status"] == "succeeded":
        _assign_reference(sandbox, refund, charge)
    return answer


def _aftermath(sandbox: Sandbox, charge: dict[str, Any]) -> str | None:
    """The refund behaviour of the test card the charge was paid with."""
    card = sandbox.store.cards.get(charge["payment_method"])
    return card.aftermath if card is not None else None


def _assign_reference(sandbox: Sandbox, refund: dict[str, Any], charge: dict[str, Any]) -> None:
    """The acquirer reference number arrives: ``refund.updated``, ``charge.refund.updated``."""
    refund["destination_details"]["card"].update(
        reference=f"{secrets.randbelow(10**23):023d}", reference_status="available"
    )
    charges.sync_refunds(sandbox.store, charge)
    emit(sandbox, "refund.updated", refund)
    emit(sandbox, "charge.refund.updated", refund)


def advance(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Move the refund test cards' refunds on, as time would at Stripe; the refunds changed.

    A ``pending`` refund of a 4000 0000 0000 7726 charge succeeds; a ``succeeded`` refund of a
    4000 0000 0000 5126 charge fails (``expired_or_canceled_card``) and its amount returns to
    the merchant's balance, so the charge no longer counts it as refunded.
    """
    changed = []
    with sandbox.store.lock:
        for refund in list(sandbox.store.refunds.values()):
            charge = sandbox.store.charges[refund["charge"]]
            aftermath = _aftermath(sandbox, charge)
            if aftermath == "refund_pending" and refund["status"] == "pending":
                refund["status"] = "succeeded"
                _assign_reference(sandbox, refund, charge)
            elif aftermath == "refund_fails" and refund["status"] == "succeeded":
                _fail(sandbox, refund, charge)
            else:
                continue
            changed.append(copy.deepcopy(refund))
    return changed


def _fail(sandbox: Sandbox, refund: dict[str, Any], charge: dict[str, Any]) -> None:
    refund.update(
        status="failed",
        failure_reason=FAILURE_REASON,
        failure_balance_transaction=new_id("txn_"),
    )
    refund["destination_details"]["card"].update(reference=None, reference_status="unavailable")
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charges.sync_refunds(sandbox.store, charge)
    emit(sandbox, "refund.updated", refund)
    emit(sandbox, "refund.failed", refund)
    emit(sandbox, "charge.refund.updated", refund)


@api_route("/v1/refunds/<refund_id>", methods=["GET"])
def retrieve_refund(refund_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown(())
    store = current_sandbox().store
    refund = store.refunds.get(refund_id)
    if refund is None:
        raise errors.resource_missing("refund", refund_id)
    return expanded(store, refund, query.expand())


@api_route("/v1/refunds", methods=["GET"])
def list_refunds() -> dict[str, Any]:
    """Newest first, optionally only those of one ``payment_intent`` or ``charge``, or made in
    a ``created`` range (as Stripe's list takes it)."""
    query = params()
    query.reject_unknown(
        {"payment_intent", "charge", "created", "limit", "starting_after", "ending_before"}
    )
    store = current_sandbox().store
    refunds = matching(query, list(reversed(store.refunds.values())), ("payment_intent", "charge"))
    return list_object(store, "/v1/refunds", [copy.deepcopy(r) for r in refunds], query)
