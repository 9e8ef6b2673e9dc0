"""The timeline's and the audit log's words: audit actions, their details and Stripe's webhook
events as a clerk reads them, never as the code names them.

An identity attempt is labelled by what happened (the audit row's ``result``, or its outcome),
not as if every attempt were wrong. Stripe's codes in details (a decline, a PaymentIntent's
status) read through ``portal.payments.staff_words``, the one home for those words, and a
webhook event reads as what Stripe told us ("Stripe: the payment succeeded"), not as
``payment_intent.succeeded``.
"""

from __future__ import annotations

from portal.i18n import N_
from portal.money import format_known_amount
from portal.payments.staff_words import decline_words, payment_status_words

#: What the webhook worker made of an event, in words.
WEBHOOK_OUTCOME_WORDS = {
    "queued": N_("waiting to be handled"),
    "applied": N_("handled"),
    "ignored": N_("not acted on (a kind Postern ignores)"),
    "not_ours": N_("not about this payment"),
    "failed": N_("could not be handled (Stripe unreachable); reconcile repairs it"),
}

ACTION_WORDS = {
    "capture.created": N_("Request created"),
    "capture.sent": N_("Link sent"),
    "capture.opened": N_("Link opened"),
    "capture.bound": N_("Customer pressed Start"),
    "capture.bind_refused": N_("Start refused: link already used on another device"),
    "capture.verified": N_("Identity confirmed"),
    "capture.locked": N_("Locked after too many wrong answers"),
    "capture.in_progress": N_("Customer started entering details"),
    "capture.succeeded": N_("Request completed"),
    "capture.failed": N_("Request failed"),
    "capture.revoked": N_("Request revoked"),
    "capture.extended": N_("Link time extended"),
    "capture.link_replaced": N_("Link replaced (sent again)"),
    "capture.expired": N_("Link expired"),
    "delivery.queued": N_("Message queued"),
    "delivery.sent": N_("Message sent"),
    "delivery.failed": N_("Message could not be sent"),
    "delivery.cancelled": N_("Message cancelled"),
    "payment.intent_created": N_("Payment opened with Stripe"),
    "payment.failed": N_("Card payment attempt failed"),
    "payment.succeeded": N_("Payment succeeded"),
    "payment.canceled": N_("Payment cancelled"),
    "payment.reconciled": N_("Payment reconciled with Stripe"),
    "payment.succeeded_after_close": N_("Paid after the request closed: refund needed"),
    "payment.succeeded_over_limit": N_(
        "Paid after the failed-attempt limit was reached: needs review"
    ),
    "refund.requested": N_("Refund requested"),
    "refund.approved": N_("Refund approved"),
    "refund.rejected": N_("Refund rejected"),
    "refund.submit_deferred": N_("Refund waiting to reach Stripe"),
    "refund.submitted": N_("Refund handed to Stripe"),
    "refund.pending": N_("Refund waiting for the customer's bank"),
    "refund.requires_action": N_("Refund needs action in Stripe"),
    "refund.failed": N_("Refund failed"),
    "refund.succeeded": N_("Refund succeeded"),
    "dispute.opened": N_("Dispute opened by the cardholder's bank"),
    "dispute.updated": N_("Dispute updated"),
    "dispute.closed": N_("Dispute closed"),
    "dispute.funds_withdrawn": N_("Disputed amount taken from our Stripe balance"),
    "dispute.funds_reinstated": N_("Disputed amount given back to our Stripe balance"),
    "data.step_shown": N_("Customer shown the personal-details form"),
    "data.submitted": N_("Customer submitted personal details"),
    "data.declined": N_("Customer declined to give personal details"),
    "data.revealed": N_("Personal details revealed to staff"),
    "data.reveal_failed": N_("Personal details could not be read: nothing revealed"),
    "data.erased": N_("Personal details erased"),
    "hooks.endpoint_created": N_("Webhook endpoint added"),
    "hooks.endpoint_updated": N_("Webhook endpoint's events changed"),
    "hooks.endpoint_disabled": N_("Webhook endpoint disabled"),
    "hooks.endpoint_enabled": N_("Webhook endpoint enabled"),
    "hooks.secret_rotated": N_("Webhook signing secret rotated"),
    "hooks.test_event_queued": N_("Webhook test event sent"),
    "hooks.delivery_replayed": N_("Webhook delivery sent again"),
}

#: ``capture.identity_attempt`` by the attempt's ``result`` detail.
IDENTITY_ATTEMPT_WORDS = {
    "correct": N_("Right answer to the identity question"),
    "wrong": N_("Wrong answer to the identity question"),
    "unreadable": N_("Answer to the identity question not in a form we could check (not counted)"),
}
#: What a Stripe webhook event told us, by its type.
WEBHOOK_EVENT_WORDS = {
    "payment_intent.created": N_("the payment was set up"),
    "payment_intent.requires_action": N_("the bank asked for a security check (3-D Secure)"),
    "payment_intent.processing": N_("the payment is being processed"),
    "payment_intent.succeeded": N_("the payment succeeded"),
    "payment_intent.payment_failed": N_("a card attempt was declined"),
    "payment_intent.canceled": N_("the payment was cancelled"),
    "payment_intent.amount_capturable_updated": N_("the amount that can be taken changed"),
    "charge.succeeded": N_("the card was charged"),
    "charge.failed": N_("a card attempt was declined"),
    "charge.captured": N_("the charge was taken"),
    "charge.refunded": N_("money was refunded"),
    "charge.refund.updated": N_("a refund changed"),
    "refund.created": N_("a refund was started"),
    "refund.updated": N_("a refund changed"),
    "refund.failed": N_("a refund failed"),
    "charge.dispute.created": N_("the cardholder's bank opened a dispute"),
    "charge.dispute.updated": N_("a dispute changed"),
    "charge.dispute.closed": N_("a dispute was closed"),
    "charge.dispute.funds_withdrawn": N_("the disputed amount was taken from our Stripe balance"),
    "charge.dispute.funds_reinstated": N_("the disputed amount was given back to our balance"),
}
#: Audit detail keys not worth a reader's time (internal ids repeated elsewhere on the page),
#: or already said by the row's label.
_QUIET_KEYS = frozenset({"refund_id", "result"})
#: Detail keys whose value is a PaymentIntent status.
_PAYMENT_STATUS_KEYS = frozenset({"status", "payment_status", "stripe_status", "from", "to"})


def action_words(action: str, outcome: str | None = None, details: dict | None = None) -> str:
    """An audit action in words. An identity attempt says whether it was right: by its
    ``result`` detail, else by the row's ``outcome``."""
    if action == "capture.identity_attempt":
        result = (details or {}).get("result") or ("correct" if outcome == "success" else "wrong")
        return IDENTITY_ATTEMPT_WORDS.get(result, IDENTITY_ATTEMPT_WORDS["wrong"])
    return ACTION_WORDS.get(action) or action.replace("_", " ").replace(".", ": ", 1).capitalize()


def webhook_event_words(event_type: str) -> str:
    """``charge.dispute.funds_withdrawn`` -> "Stripe: the disputed amount was taken from our
    Stripe balance"; a type not listed still reads as words."""
    words = WEBHOOK_EVENT_WORDS.get(event_type)
    if words is None:
        words = event_type.replace("payment_intent", "payment").replace(".", " ").replace("_", " ")
    return f"Stripe: {words}"


def _value_words(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def detail_words(details: dict | None) -> list[str]:
    """Audit details as short "name: value" lines: an amount in its currency, a decline as
    why it failed, a PaymentIntent status in words."""
    details = dict(details or {})
    lines = []
    currency = details.pop("currency", None)
    amount = details.pop("amount_minor", None)
    if amount is not None:
        currency = (currency or "").upper()
        shown = format_known_amount(amount, currency) or amount
        lines.append(f"amount: {shown}")
    elif currency:
        lines.append(f"currency: {currency}")
    failure, decline = details.pop("failure_code", None), details.pop("decline_code", None)
    if failure or decline:
        lines.append(f"why: {decline_words(failure, decline)}")
    for key in sorted(details):
        value = details[key]
        if value is None or value == "" or key in _QUIET_KEYS:
            continue
        if key in _PAYMENT_STATUS_KEYS and isinstance(value, str) and "_" in value:
            value = payment_status_words(value).lower()
        lines.append(f"{key.replace('_', ' ')}: {_value_words(value)}")
    return lines
