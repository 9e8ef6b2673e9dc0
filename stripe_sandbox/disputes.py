"""Disputes (chargebacks): opened by the dispute test card, read under ``/v1/disputes``.

A charge made with 4000 0000 0000 0259 (``pm_card_createDispute``) is disputed as soon as it
succeeds, as in Stripe's test mode: reason ``fraudulent``, status ``needs_response``, the
disputed amount withdrawn at once. Nothing changes by itself afterwards: the test harness moves
a dispute on with ``/_sandbox/disputes/<id>/update`` and ``/_sandbox/disputes/<id>/close``
(Stripe's test mode does the same through evidence text), and ``POST /v1/disputes/<id>/close``
accepts it as the merchant would.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .api import Sandbox, api_route, current_sandbox, now, params
from .events import emit
from .fixtures import fixtures, shaped
from .responses import expanded, list_object, matching
from .state import new_id

#: How long Stripe gives the merchant to answer, counted from the dispute's creation.
EVIDENCE_WINDOW_SECONDS = 7 * 24 * 60 * 60
#: Stripe's dispute fee in the charge's currency; the sandbox charges the UK fee everywhere.
DISPUTE_FEE = 2000
OPEN_STATUSES = ("warning_needs_response", "needs_response", "warning_under_review", "under_review")
CLOSE_OUTCOMES = ("won", "lost")
UPDATE_STATUSES = ("under_review", "needs_response")
#: Visa's reason code for "fraud: card-absent environment".
FRAUD_REASON_CODE = "10.4"


def open_dispute(sandbox: Sandbox, charge: dict[str, Any]) -> dict[str, Any]:
    """The cardholder disputes the whole of ``charge``; emits Stripe's events in its order.

    Call with the store locked, after the charge's own events.
    """
    created = now()
    dispute = shaped(
        "dispute",
        {
            "amount": charge["amount"],
            "balance_transactions": [],
            "charge": charge["id"],
            "created": created,
            "currency": charge["currency"],
            "evidence": _empty_evidence(),
            "evidence_details": {
                "due_by": created + EVIDENCE_WINDOW_SECONDS,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
                "enhanced_eligibility": {},
            },
            "id": new_id("du_"),
            # A fraud chargeback cannot be refunded: the money is already on its way back.
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "object": "dispute",
            "payment_intent": charge["payment_intent"],
            "payment_method_details": {
                "card": {
                    "brand": charge["payment_method_details"]["card"]["brand"],
                    "case_type": "chargeback",
                    "network_reason_code": FRAUD_REASON_CODE,
                    "network": charge["payment_method_details"]["card"]["network"],
                },
                "type": "card",
            },
            "reason": "fraudulent",
            "status": "needs_response",
            "enhanced_eligibility_types": [],
        },
    )
    sandbox.store.disputes[dispute["id"]] = dispute
    charge["disputed"] = True
    emit(sandbox, "charge.dispute.created", dispute)
    dispute["balance_transactions"].append(
        _balance_transaction(dispute, -dispute["amount"], DISPUTE_FEE, "Chargeback withdrawal")
    )
    emit(sandbox, "charge.dispute.funds_withdrawn", dispute)
    return dispute


def close(sandbox: Sandbox, dispute: dict[str, Any], outcome: str) -> dict[str, Any]:
    """Settle ``dispute`` as ``won`` or ``lost``. A win gives the money back first
    (``charge.dispute.funds_reinstated``), then ``charge.dispute.closed`` as with Stripe."""
    if outcome not in CLOSE_OUTCOMES:
        raise ValueError(f"a dispute closes as won or lost, not {outcome!r}")
    _check_open(dispute)
    if outcome == "won":
        dispute["balance_transactions"].append(
            _balance_transaction(dispute, dispute["amount"], -DISPUTE_FEE, "Chargeback reversal")
        )
        dispute["status"] = "won"
        emit(sandbox, "charge.dispute.funds_reinstated", dispute)
    else:
        dispute["status"] = "lost"
    emit(sandbox, "charge.dispute.closed", dispute)
    return dispute


def update(sandbox: Sandbox, dispute: dict[str, Any], status: str) -> dict[str, Any]:
    """Move an open dispute to ``under_review`` (evidence sent) or back to ``needs_response``."""
    if status not in UPDATE_STATUSES:
        raise ValueError(f"a dispute can be updated to {' or '.join(UPDATE_STATUSES)}")
    _check_open(dispute)
    dispute["status"] = status
    if status == "under_review":
        details = dispute["evidence_details"]
        details.update(has_evidence=True, submission_count=details["submission_count"] + 1)
    emit(sandbox, "charge.dispute.updated", dispute)
    return dispute


def refuse_refund_if_disputed(disputes: dict[str, dict[str, Any]], charge: dict[str, Any]) -> None:
    """Refuse a refund of a charge under a chargeback, with Stripe's wording and code."""
    for dispute in disputes.values():
        if dispute["charge"] == charge["id"] and not dispute["is_charge_refundable"]:
            raise errors.invalid_request(
                f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                code="charge_disputed",
                param="charge",
            )


def _check_open(dispute: dict[str, Any]) -> None:
    if dispute["status"] not in OPEN_STATUSES:
        raise errors.invalid_request(
            f"This dispute is already closed (its status is {dispute['status']}).",
            param="dispute",
        )


def _balance_transaction(
    dispute: dict[str, Any], amount: int, fee: int, description: str
) -> dict[str, Any]:
    """The balance movement a dispute causes, as embedded in ``balance_transactions``."""
    return {
        "id": new_id("txn_"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": now(),
        "created": now(),
        "currency": dispute["currency"],
        "description": description,
        "fee": fee,
        "net": amount - fee,
        "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
        "source": dispute["id"],
        "status": "available",
        "type": "adjustment",
    }


def _empty_evidence() -> dict[str, Any]:
    """Every evidence field of Stripe's fixture, none of them given yet."""
    evidence = fixtures()["dispute"]["evidence"]
    return {key: ({} if isinstance(value, dict) else None) for key, value in evidence.items()}


def find(dispute_id: str) -> dict[str, Any]:
    dispute = current_sandbox().store.disputes.get(dispute_id)
    if dispute is None:
        raise errors.resource_missing("dispute", dispute_id, param="dispute")
    return dispute


@api_route("/v1/disputes/<dispute_id>", methods=["GET"])
def retrieve_dispute(dispute_id: str) -> dict[str, Any]:
    query = params()
    query.reject_unknown(())
    return expanded(current_sandbox().store, find(dispute_id), query.expand())


@api_route("/v1/disputes", methods=["GET"])
def list_disputes() -> dict[str, Any]:
    """Newest first, optionally only those of one ``payment_intent`` or ``charge``."""
    query = params()
    query.reject_unknown(
        {"payment_intent", "charge", "created", "limit", "starting_after", "ending_before"}
    )
    store = current_sandbox().store
    found = matching(query, list(reversed(store.disputes.values())), ("payment_intent", "charge"))
    return list_object(store, "/v1/disputes", found, query)


@api_route("/v1/disputes/<dispute_id>/close", methods=["POST"])
def accept_dispute(dispute_id: str) -> dict[str, Any]:
    """The merchant accepts the dispute (Stripe's "close"): it is lost, the money stays gone."""
    query = params()
    query.reject_unknown(())
    dispute = find(dispute_id)
    close(current_sandbox(), dispute, "lost")
    return expanded(current_sandbox().store, dispute, query.expand())
