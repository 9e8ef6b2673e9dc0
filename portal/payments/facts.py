"""What Postern keeps and needs from Stripe's objects: plain, immutable facts.

Only ids, statuses, amounts, card brand, last four digits, expiry, the 3-D Secure result and
decline codes. The converters take Stripe's JSON (or SDK objects) and drop everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from portal.models.payment import FINAL_PAYMENT_STATUSES
from portal.models.refund import RefundStatus

#: The metadata key that links a Stripe object to our capture request's public id.
METADATA_REQUEST = "postern_request"
#: The metadata key linking a Stripe refund back to our refund row.
METADATA_REFUND = "postern_refund"
#: Stripe's error code for a 3-D Secure check the customer failed or abandoned: it makes no
#: charge, so the attempt is known only from the intent's ``last_payment_error``.
AUTHENTICATION_FAILURE = "payment_intent_authentication_failure"


@dataclass(frozen=True)
class ChargeFacts:
    """One authorisation attempt, as far as we may keep it."""

    id: str
    status: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    #: ``payment_method_details.card.three_d_secure.result`` ("authenticated", ...) or None.
    three_d_secure: str | None = None
    failure_code: str | None = None
    #: For card_declined: the issuer's reason (``outcome.reason``: insufficient_funds, ...).
    decline_code: str | None = None
    #: ``payment_method_details.card.wallet.type`` ("apple_pay", "google_pay") when the card
    #: came from a wallet; brand and last four are still the card's own.
    wallet: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class IntentFacts:
    """A PaymentIntent, reduced to what Postern keeps or needs."""

    id: str
    status: str
    amount: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)
    #: Handed to the customer's browser only; never stored or logged.
    client_secret: str | None = field(default=None, repr=False)
    charge: ChargeFacts | None = None
    #: The id of the latest charge (an attempt, failed or not), expanded or not; None until
    #: the intent was first confirmed.
    latest_charge_id: str | None = None
    #: From ``last_payment_error``: why the last attempt failed.
    error_code: str | None = None
    error_decline_code: str | None = None
    error_charge_id: str | None = None
    error_payment_method_id: str | None = None
    cancellation_reason: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_PAYMENT_STATUSES


@dataclass(frozen=True)
class RefundFacts:
    """A Stripe refund, reduced to what Postern keeps or needs."""

    id: str
    status: str
    amount: int
    currency: str
    payment_intent_id: str | None
    failure_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def our_refund_id(self) -> int | None:
        value = self.metadata.get(METADATA_REFUND, "")
        return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified Stripe event: its id, type, and the id and kind of the object it is about."""

    id: str
    type: str
    object_type: str | None
    object_id: str | None
    #: For charge events: the PaymentIntent the charge belongs to.
    payment_intent_id: str | None
    #: Our request's public id from the object's metadata, if it carries one.
    request_public_id: str | None = None


def _get(data: dict | None, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def charge_facts(charge: dict | None) -> ChargeFacts | None:
    """The safe facts of an (expanded) charge; None if the charge is absent or only an id."""
    if not isinstance(charge, dict):
        return None
    card = _get(charge, "payment_method_details", "card") or {}
    failure_code = charge.get("failure_code")
    reason = _get(charge, "outcome", "reason")
    return ChargeFacts(
        id=charge["id"],
        status=charge.get("status") or "unknown",
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        three_d_secure=_get(card, "three_d_secure", "result"),
        failure_code=failure_code,
        decline_code=reason if failure_code else None,
        wallet=_get(card, "wallet", "type"),
    )


def charge_list(page: Any) -> tuple[list[ChargeFacts], bool]:
    """The charges of one page of ``GET /v1/charges`` (newest first, as Stripe lists them)
    and whether more follow (``has_more``)."""
    data = page.to_dict() if hasattr(page, "to_dict") else dict(page)
    charges = []
    for item in data["data"]:
        charge = charge_facts(item)
        if charge is None:
            raise ValueError("a charge list holding something other than charges")
        charges.append(charge)
    return charges, bool(data.get("has_more"))


def intent_facts(intent: Any) -> IntentFacts:
    """Reduce a PaymentIntent (StripeObject or plain dict) to ``IntentFacts``."""
    data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
    error = data.get("last_payment_error") or {}
    latest = data.get("latest_charge")
    error_method = error.get("payment_method")
    return IntentFacts(
        id=data["id"],
        status=data["status"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        metadata=dict(data.get("metadata") or {}),
        client_secret=data.get("client_secret"),
        charge=charge_facts(latest if isinstance(latest, dict) else None),
        latest_charge_id=latest.get("id") if isinstance(latest, dict) else latest,
        error_code=error.get("code"),
        error_decline_code=error.get("decline_code"),
        error_charge_id=error.get("charge"),
        error_payment_method_id=(
            error_method.get("id") if isinstance(error_method, dict) else error_method
        ),
        cancellation_reason=data.get("cancellation_reason"),
    )


def refund_facts(refund: Any) -> RefundFacts:
    """Reduce a Refund (StripeObject or plain dict) to ``RefundFacts``."""
    data = refund.to_dict() if hasattr(refund, "to_dict") else dict(refund)
    intent = data.get("payment_intent")
    return RefundFacts(
        id=data["id"],
        status=str(data.get("status") or RefundStatus.PENDING),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        payment_intent_id=intent.get("id") if isinstance(intent, dict) else intent,
        failure_reason=data.get("failure_reason"),
        metadata=dict(data.get("metadata") or {}),
    )


@dataclass(frozen=True)
class DisputeFacts:
    """A Stripe dispute (chargeback), reduced to what Postern keeps: no evidence, no card."""

    id: str
    status: str
    reason: str
    amount: int
    currency: str
    payment_intent_id: str | None
    charge_id: str | None
    #: ``evidence_details.due_by`` (Unix seconds), or None when no response is due.
    evidence_due_by: int | None = None
    #: From ``balance_transactions``: money taken from us for the dispute, and given back.
    funds_withdrawn: int = 0
    funds_reinstated: int = 0


def _in_dispute_currency(move: dict, currency: str, dispute_amount: int) -> int:
    """A dispute's balance transaction as an amount in the dispute's currency (signed)."""
    value = int(move.get("amount") or 0)
    if str(move.get("currency") or currency).lower() == currency:
        return value
    return -dispute_amount if value < 0 else dispute_amount if value > 0 else 0


def dispute_facts(dispute: Any) -> DisputeFacts:
    """Reduce a Dispute (StripeObject or plain dict) to ``DisputeFacts``."""
    data = dispute.to_dict() if hasattr(dispute, "to_dict") else dict(dispute)
    intent, charge = data.get("payment_intent"), data.get("charge")
    # A withdrawal is a negative balance transaction, a reinstatement a positive one: Stripe
    # records each as its own entry, so the sums are the totals so far. Balance transactions
    # are in the account's settlement currency; one in another currency than the dispute's
    # (a euro payment on a sterling account) counts as the dispute's own amount, so every
    # figure Postern keeps for the dispute is in the dispute's currency.
    currency, amount = str(data["currency"]).lower(), int(data["amount"])
    moves = [
        _in_dispute_currency(item, currency, amount)
        for item in data.get("balance_transactions") or []
    ]
    due_by = _get(data, "evidence_details", "due_by")
    return DisputeFacts(
        id=data["id"],
        status=str(data["status"]),
        reason=str(data.get("reason") or "general"),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        payment_intent_id=intent.get("id") if isinstance(intent, dict) else intent,
        charge_id=charge.get("id") if isinstance(charge, dict) else charge,
        evidence_due_by=int(due_by) if due_by else None,
        funds_withdrawn=-sum(amount for amount in moves if amount < 0),
        funds_reinstated=sum(amount for amount in moves if amount > 0),
    )


#: What Stripe's object ids and event types look like; anything else in a signed body is refused
#: before it can reach a query (PostgreSQL, for one, refuses NUL characters outright).
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}")
#: Our own capture-request public ids (URL-safe base64 alphabet), carried in metadata.
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def _checked(value, pattern: re.Pattern[str], *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError("not shaped like a Stripe event")
    return value


def webhook_event(data: dict) -> WebhookEvent:
    """The parts of a Stripe event Postern acts on. Raises ValueError for a body that is not
    shaped like a Stripe event (ids and type checked), so it is refused, never half-read."""
    obj = _get(data, "data", "object") or {}
    object_type = obj.get("object")
    payment_intent = None
    if object_type == "payment_intent":
        payment_intent = obj.get("id")
    elif object_type in ("charge", "refund", "dispute"):
        # Refunds and disputes name their PaymentIntent too: the inbox row keeps it, so the
        # back office's timeline lists their events beside the payment's own.
        linked = obj.get("payment_intent")
        payment_intent = linked.get("id") if isinstance(linked, dict) else linked
    public_id = (obj.get("metadata") or {}).get(METADATA_REQUEST) or None
    return WebhookEvent(
        id=_checked(data.get("id"), _STRIPE_ID, optional=False),
        type=_checked(data.get("type"), _EVENT_TYPE, optional=False),
        object_type=_checked(object_type, _STRIPE_ID),
        object_id=_checked(obj.get("id"), _STRIPE_ID),
        payment_intent_id=_checked(payment_intent, _STRIPE_ID),
        request_public_id=_checked(public_id, _PUBLIC_ID),
    )
