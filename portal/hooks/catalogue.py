"""The event catalogue: which audited action becomes which outbound event, and what the event
says beyond the request itself.

One table, ``FROM_AUDIT``: audit action -> (event type, a function of the audit row's details
giving the event-specific part of ``data``). Builders copy only what an outside system may
know: amounts, currencies, reason codes with plain words, Stripe ids, field *names*. Never a
value the customer typed, a card number (audit details hold none: ``portal.audit.service``
masks them), a link or a destination.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.i18n import N_
from portal.payments.messages import decline_message

PAYMENT_STEP, DATA_STEP = "payment", "personal_data"
ENTERED, LEFT = "customer.sensitive_step.entered", "customer.sensitive_step.left"
TEST_EVENT = "endpoint.test"

#: Every type an endpoint may subscribe to, with what it means (the admin page and the docs).
EVENT_TYPES: dict[str, str] = {
    "request.created": N_("An agent created a capture request."),
    "request.sent": N_("The link was handed to the SMS or email channel (or copied)."),
    "request.delivery_failed": N_("The SMS or email carrying the link could not be sent."),
    "request.opened": N_("The customer opened the link."),
    "request.verified": N_("The customer passed the identity check."),
    "request.locked": N_("Too many wrong identity answers locked the request."),
    "request.data_captured": N_("The customer sent the personal data (field names only)."),
    "request.data_declined": N_("The customer chose not to give the personal data."),
    "request.succeeded": N_("Everything asked for was received."),
    "request.failed": N_("The request ended without success (payment attempts used up)."),
    "request.expired": N_("The link ran out of time."),
    "request.revoked": N_("An agent cancelled the link."),
    "payment.attempt_failed": N_("A card payment attempt was declined (code and plain words)."),
    "payment.succeeded": N_("The card payment went through."),
    "refund.succeeded": N_("A refund was paid back to the card."),
    "refund.failed": N_("A refund failed at the card network."),
    "dispute.opened": N_("The cardholder disputed the payment (a chargeback)."),
    "dispute.closed": N_("A dispute was closed (won, lost or withdrawn)."),
    ENTERED: N_("The customer reached the payment or personal-data step: pause call recording."),
    LEFT: N_("That step ended (paid, sent, declined, or the link closed): resume recording."),
}

Builder = Callable[[dict[str, Any]], dict[str, Any]]


def _nothing(details: dict[str, Any]) -> dict[str, Any]:
    return {}


def _amount(details: dict[str, Any]) -> dict[str, Any]:
    if details.get("amount_minor") is None:
        return {}
    return {"amount": details.get("amount_minor"), "currency": details.get("currency")}


def _sent(details: dict[str, Any]) -> dict[str, Any]:
    return {"channel": details.get("channel"), "resend": bool(details.get("resend"))}


def _delivery_failed(details: dict[str, Any]) -> dict[str, Any]:
    return {"channel": details.get("channel"), "reason": details.get("error_code")}


def _data_captured(details: dict[str, Any]) -> dict[str, Any]:
    # ``fields`` are the names of the fields received: the values never reach an audit row.
    return {"field_set": details.get("field_set"), "fields": list(details.get("fields") or [])}


def _data_declined(details: dict[str, Any]) -> dict[str, Any]:
    return {"field_set": details.get("field_set")}


def _attempt_failed(details: dict[str, Any]) -> dict[str, Any]:
    failure, decline = details.get("failure_code"), details.get("decline_code")
    return {
        **_amount(details),
        "attempt": details.get("attempt"),
        "decline": {
            "failure_code": failure,
            "decline_code": decline,
            "message": decline_message(failure, decline),
        },
    }


def _payment(details: dict[str, Any]) -> dict[str, Any]:
    return {**_amount(details), "payment_intent": details.get("payment_intent")}


def _refund(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "refund": {
            "id": details.get("stripe_refund"),
            "amount": details.get("amount_minor"),
            "status": details.get("status"),
            "failure_reason": details.get("failure_reason"),
        }
    }


def _dispute(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "dispute": {
            "id": details.get("stripe_dispute"),
            "status": details.get("dispute_status"),
            "reason": details.get("dispute_reason"),
            "amount": details.get("amount_minor"),
            "currency": details.get("currency"),
            "evidence_due_by": details.get("evidence_due_by"),
            "outcome": details.get("outcome"),
        }
    }


def _entered(step: str) -> Builder:
    return lambda details: {"step": step}


def _ended(details: dict[str, Any]) -> dict[str, Any]:
    return {"reason": details.get("status_reason")}


FROM_AUDIT: dict[str, tuple[str, Builder]] = {
    "capture.created": ("request.created", _amount),
    "capture.sent": ("request.sent", _sent),
    "delivery.failed": ("request.delivery_failed", _delivery_failed),
    "capture.opened": ("request.opened", _nothing),
    "capture.verified": ("request.verified", _nothing),
    "capture.locked": ("request.locked", _nothing),
    "data.submitted": ("request.data_captured", _data_captured),
    "data.declined": ("request.data_declined", _data_declined),
    "capture.succeeded": ("request.succeeded", _nothing),
    "capture.failed": ("request.failed", _ended),
    "capture.expired": ("request.expired", _nothing),
    "capture.revoked": ("request.revoked", _nothing),
    "payment.failed": ("payment.attempt_failed", _attempt_failed),
    "payment.succeeded": ("payment.succeeded", _payment),
    "refund.succeeded": ("refund.succeeded", _refund),
    "refund.failed": ("refund.failed", _refund),
    "dispute.opened": ("dispute.opened", _dispute),
    "dispute.closed": ("dispute.closed", _dispute),
    # The customer reaches a sensitive step: the payment page creates its PaymentIntent once
    # per request; the personal-data page records that it was shown (``portal.capture``).
    "payment.intent_created": (ENTERED, _entered(PAYMENT_STEP)),
    "data.step_shown": (ENTERED, _entered(DATA_STEP)),
}

#: Events about money: an API key reads them only with the ``payments:read`` scope.
PAYMENT_FACT_TYPES = frozenset(
    name for name in EVENT_TYPES if name.split(".")[0] in ("payment", "refund", "dispute")
)

#: Audit actions that end a sensitive step, and which steps they end.
_CLOSING = frozenset({PAYMENT_STEP, DATA_STEP})
STEP_ENDED_BY: dict[str, frozenset[str]] = {
    "payment.succeeded": frozenset({PAYMENT_STEP}),
    "data.submitted": frozenset({DATA_STEP}),
    "data.declined": frozenset({DATA_STEP}),
    "capture.succeeded": _CLOSING,
    "capture.failed": _CLOSING,
    "capture.declined": _CLOSING,
    "capture.expired": _CLOSING,
    "capture.revoked": _CLOSING,
    "capture.locked": _CLOSING,
}

#: Every audit action the listener looks at: anything else costs it nothing.
INTERESTING_ACTIONS = frozenset(FROM_AUDIT) | frozenset(STEP_ENDED_BY)
