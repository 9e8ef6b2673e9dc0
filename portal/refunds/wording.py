"""What refunds are called in the back office: reasons, statuses and refusals in plain words.

Reasons are a fixed list (the code is stored and audited; the words are shown), each mapped
to the nearest reason Stripe knows, so Stripe's dashboard and ours tell the same story.
"""

from __future__ import annotations

from portal.models.refund import RefundStatus

#: code -> (words shown to staff, the reason sent to Stripe or None).
REASONS: dict[str, tuple[str, str | None]] = {
    "requested_by_customer": ("The customer asked for a refund", "requested_by_customer"),
    "duplicate": ("The customer paid twice", "duplicate"),
    "wrong_amount": ("The wrong amount was taken", "requested_by_customer"),
    "service_not_provided": ("The goods or service were not provided", "requested_by_customer"),
    "paid_after_close": ("The payment arrived after the request was closed", "duplicate"),
    "goodwill": ("A goodwill gesture", "requested_by_customer"),
    "fraudulent": ("The payment looks fraudulent", "fraudulent"),
}

STATUS_WORDS = {
    RefundStatus.PENDING_APPROVAL: "Waiting for a second person to approve",
    RefundStatus.REQUESTED: "Not yet confirmed by Stripe",
    RefundStatus.PENDING: "Sent to Stripe, waiting for the bank",
    RefundStatus.REQUIRES_ACTION: "Stripe needs more information",
    RefundStatus.SUCCEEDED: "Refunded",
    RefundStatus.FAILED: "Failed: no money went back",
    RefundStatus.CANCELLED: "Cancelled",
    RefundStatus.REJECTED: "Rejected by the approver",
}

PROVIDER_UNAVAILABLE = (
    "Stripe could not be reached, so the refund has NOT been confirmed. It is saved: press "
    "\u201cTry again\u201d in a minute. Trying again never refunds twice."
)
ALREADY_REFUNDED = "Stripe says this payment has already been refunded in full."
MORE_THAN_LEFT = "Stripe refused: the amount is more than what is left to refund on this payment."


def reason_words(code: str) -> str:
    return REASONS.get(code, (code, None))[0]


def stripe_reason(code: str) -> str | None:
    return REASONS.get(code, (code, None))[1]


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def refusal_message(code: str | None, provider_message: str = "") -> str:
    """Stripe's refusal of a refund, in words for staff (never Stripe's raw text)."""
    if code == "charge_already_refunded":
        return ALREADY_REFUNDED
    if "greater than unrefunded amount" in provider_message or code == "amount_too_large":
        return MORE_THAN_LEFT
    return f"Stripe refused this refund ({code or 'no reason given'}). No money went back."
