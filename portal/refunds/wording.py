"""What refunds are called in the back office: reasons, statuses and refusals in plain words.

Reasons are a fixed list (the code is stored and audited; the words are shown), each mapped
to the nearest reason Stripe knows, so Stripe's dashboard and ours tell the same story.
"""

from __future__ import annotations

from portal.disputes import wording as dispute_words
from portal.i18n import N_
from portal.models.refund import RefundStatus

#: code -> (words shown to staff, the reason sent to Stripe or None).
REASONS: dict[str, tuple[str, str | None]] = {
    "requested_by_customer": (N_("The customer asked for a refund"), "requested_by_customer"),
    "duplicate": (N_("The customer paid twice"), "duplicate"),
    "wrong_amount": (N_("The wrong amount was taken"), "requested_by_customer"),
    "service_not_provided": (N_("The goods or service were not provided"), "requested_by_customer"),
    "paid_after_close": (N_("The payment arrived after the request was closed"), "duplicate"),
    "goodwill": (N_("A goodwill gesture"), "requested_by_customer"),
    "fraudulent": (N_("The payment looks fraudulent"), "fraudulent"),
}

STATUS_WORDS = {
    RefundStatus.PENDING_APPROVAL: N_("Waiting for a second person to approve"),
    RefundStatus.REQUESTED: N_("Not yet confirmed by Stripe"),
    RefundStatus.PENDING: N_("Sent to Stripe, waiting for the bank"),
    RefundStatus.REQUIRES_ACTION: N_("Stripe needs more information"),
    RefundStatus.SUCCEEDED: N_("Refunded"),
    RefundStatus.FAILED: N_("Failed: no money went back"),
    RefundStatus.CANCELLED: N_("Cancelled"),
    RefundStatus.REJECTED: N_("Rejected by the approver"),
}

PROVIDER_UNAVAILABLE = N_(
    "Stripe could not be reached, so the refund has NOT been confirmed. It is saved: press "
    "\u201cTry again\u201d in a minute. Trying again never refunds twice."
)
ALREADY_REFUNDED = N_("Stripe says this payment has already been refunded in full.")
MORE_THAN_LEFT = N_(
    "Stripe refused: the amount is more than what is left to refund on this payment."
)


#: Why Stripe says a refund failed (``refund.failure_reason``), or why it refused one (its error
#: code), in words a clerk can read aloud. Anything else reads as the general sentence.
FAILURE_WORDS = {
    "expired_or_canceled_card": N_(
        "The customer's card has expired or been cancelled, so their bank sent the money back "
        "to us."
    ),
    "lost_or_stolen_card": N_(
        "The customer's card was reported lost or stolen, so their bank sent the money back to us."
    ),
    "declined": N_("The customer's bank declined the refund."),
    "insufficient_funds": N_(
        "Stripe could not take the refund from our balance (not enough money)."
    ),
    "merchant_request": N_("The refund was cancelled at our request."),
    "charge_for_pending_refund_disputed": N_(
        "The cardholder's bank opened a dispute on this payment, so the refund was stopped."
    ),
    "charge_disputed": dispute_words.REFUND_REFUSED,
    "canceled": N_("The refund was cancelled before it reached the customer."),
    "unknown": N_("Stripe did not say why the refund failed."),
}
FAILURE_GENERAL = "Stripe did not say why the refund failed."


def failure_words(code: str | None) -> str:
    """A failed refund's reason in plain words (never Stripe's raw text)."""
    if not code:
        return FAILURE_GENERAL
    return FAILURE_WORDS.get(code, f"Stripe gave the reason \u201c{code.replace('_', ' ')}\u201d.")


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
    if code == "charge_disputed":
        return dispute_words.REFUND_REFUSED
    if "greater than unrefunded amount" in provider_message or code == "amount_too_large":
        return MORE_THAN_LEFT
    return f"Stripe refused this refund ({code or 'no reason given'}). No money went back."
