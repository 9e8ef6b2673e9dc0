"""Charges: the record of each authorisation attempt a PaymentIntent makes (``/v1/charges/<id>``).

A charge carries what the portal reads after a payment: the card's brand, last4 and expiry,
the 3-D Secure result, the outcome and, when declined, failure_code and failure_message.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from . import errors
from .api import api_route, current_sandbox, now, params
from .cards import Decline, TestCard
from .fixtures import shaped
from .responses import expanded, list_object, matching
from .state import Store, new_id

#: Most refunds a charge lists inline, as Stripe's embedded lists do.
INLINE_REFUNDS = 10


def authenticated_three_d_secure() -> dict[str, Any]:
    """``payment_method_details.card.three_d_secure`` after a completed challenge."""
    return {
        "authentication_flow": "challenge",
        "electronic_commerce_indicator": "05",
        "exemption_indicator": None,
        "result": "authenticated",
        "result_reason": None,
        "transaction_id": str(uuid.uuid4()),
        "version": "2.2.0",
    }


def create(
    store: Store,
    intent: dict[str, Any],
    payment_method: dict[str, Any],
    card: TestCard,
    *,
    decline: Decline | None,
    capture: bool,
    three_d_secure: dict[str, Any] | None,
) -> dict[str, Any]:
    """Store and return the charge for one authorisation attempt of ``intent``."""
    approved = decline is None
    captured = approved and capture
    charge_id = new_id("ch_")
    pm_card = payment_method["card"]
    amount = intent["amount"]
    charge = shaped(
        "charge",
        {
            "amount": amount,
            "amount_captured": amount if captured else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": new_id("txn_") if captured else None,
            "billing_details": copy.deepcopy(payment_method["billing_details"]),
            "calculated_statement_descriptor": "STRIPE SANDBOX",
            "captured": captured,
            "created": now(),
            "currency": intent["currency"],
            "customer": None,
            "description": intent["description"],
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None if approved else decline.code,
            "failure_message": None if approved else decline.message,
            "fraud_details": {},
            "id": charge_id,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "object": "charge",
            "on_behalf_of": None,
            "outcome": _outcome(decline),
            "paid": approved,
            "payment_intent": intent["id"],
            "payment_method": payment_method["id"],
            "payment_method_details": {
                "type": "card",
                "card": {
                    "amount_authorized": amount if approved else None,
                    "authorization_code": f"{secrets.randbelow(10**6):06d}" if approved else None,
                    "brand": pm_card["brand"],
                    "checks": {
                        "address_line1_check": None,
                        "address_postal_code_check": None,
                        "cvc_check": "fail" if card.decline == "incorrect_cvc" else "pass",
                    },
                    "country": pm_card["country"],
                    "exp_month": pm_card["exp_month"],
                    "exp_year": pm_card["exp_year"],
                    "extended_authorization": {"status": "disabled"},
                    "fingerprint": pm_card["fingerprint"],
                    "funding": pm_card["funding"],
                    "incremental_authorization": {"status": "unavailable"},
                    "installments": None,
                    "last4": pm_card["last4"],
                    "mandate": None,
                    "multicapture": {"status": "unavailable"},
                    "network": pm_card["brand"],
                    "network_token": {"used": False},
                    "network_transaction_id": f"{secrets.randbelow(10**15):015d}",
                    "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                    "regulated_status": "unregulated",
                    "three_d_secure": three_d_secure,
                    "transaction_link_id": None,
                    "wallet": _wallet_details(pm_card),
                },
            },
            "receipt_email": intent["receipt_email"],
            "receipt_number": None,
            "receipt_url": None,
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
            "status": "succeeded" if approved else "failed",
            "transfer_data": None,
            "transfer_group": None,
            "source": None,
        },
    )
    store.charges[charge_id] = charge
    return charge


def _wallet_details(pm_card: dict[str, Any]) -> dict[str, Any] | None:
    """``payment_method_details.card.wallet``: the wallet that handed the card over, if any."""
    return copy.deepcopy(pm_card["wallet"])


def _outcome(decline: Decline | None) -> dict[str, Any]:
    if decline is None:
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    if decline.blocked:
        # Radar stops it before the card network sees it.
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "not_sent_to_network",
            "reason": decline.reason,
            "risk_level": "highest",
            "risk_score": 95,
            "rule": "block_if_high_risk",
            "seller_message": decline.seller_message,
            "type": "blocked",
        }
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network",
        "reason": decline.reason,
        "risk_level": "normal",
        "risk_score": 32,
        "seller_message": decline.seller_message,
        "type": "issuer_declined",
    }


def sync_refunds(store: Store, charge: dict[str, Any]) -> None:
    """Refresh the charge's inline ``refunds`` list from the stored refunds, newest first."""
    mine = [
        copy.deepcopy(refund)
        for refund in reversed(store.refunds.values())
        if refund["charge"] == charge["id"]
    ]
    charge["refunds"]["data"] = mine[:INLINE_REFUNDS]
    charge["refunds"]["has_more"] = len(mine) > INLINE_REFUNDS


@api_route("/v1/charges/<charge_id>", methods=["GET"])
def retrieve_charge(charge_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown(())
    store = current_sandbox().store
    charge = store.charges.get(charge_id)
    if charge is None:
        raise errors.resource_missing("charge", charge_id)
    return expanded(store, charge, query.expand())


@api_route("/v1/charges", methods=["GET"])
def list_charges() -> dict[str, Any]:
    """Newest first, failed charges included; ``payment_intent`` keeps one intent's attempts."""
    query = params()
    query.reject_unknown({"payment_intent", "created", "limit", "starting_after", "ending_before"})
    store = current_sandbox().store
    found = matching(query, list(reversed(store.charges.values())), ("payment_intent",))
    return list_object(store, "/v1/charges", found, query)
