"""What disputes are called in the back office: Stripe's reasons and statuses in plain words
that a clerk can read aloud, and the evidence deadline in the contact centre's own time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from portal.models.dispute import DisputeStatus
from portal.money import format_known_amount

#: Stripe's dispute reasons (``dispute.reason``) in words; anything new reads as its code.
REASON_WORDS = {
    "bank_cannot_process": "The cardholder's bank could not process the payment",
    "check_returned": "The cheque was returned",
    "credit_not_processed": "The cardholder says a promised refund never arrived",
    "customer_initiated": "The cardholder asked their bank to reverse the payment",
    "debit_not_authorized": "The cardholder says they did not authorise the debit",
    "duplicate": "The cardholder says they were charged twice",
    "fraudulent": "The cardholder says they did not make this payment",
    "general": "The cardholder's bank gave no specific reason",
    "incorrect_account_details": "The account details were wrong",
    "insufficient_funds": "There was not enough money in the account",
    "noncompliant": "The bank says the payment broke the card scheme's rules",
    "product_not_received": "The cardholder says they did not receive what they paid for",
    "product_unacceptable": "The cardholder says what they received was faulty or not as described",
    "subscription_canceled": "The cardholder says they had cancelled",
    "unrecognized": "The cardholder does not recognise the payment",
}

STATUS_WORDS = {
    DisputeStatus.WARNING_NEEDS_RESPONSE: "Inquiry from the bank: a response is needed",
    DisputeStatus.WARNING_UNDER_REVIEW: "Inquiry from the bank: under review",
    DisputeStatus.WARNING_CLOSED: "Inquiry closed",
    DisputeStatus.NEEDS_RESPONSE: "Disputed: evidence is needed",
    DisputeStatus.UNDER_REVIEW: "Disputed: the bank is reviewing the evidence",
    DisputeStatus.WON: "Dispute won: the money stays with us",
    DisputeStatus.LOST: "Dispute lost: the money went back to the cardholder",
}

#: Said when a refund is asked for after a chargeback (by us, or by Stripe with
#: ``charge_disputed``), open or decided: while it is open Stripe has taken the disputed amount
#: for the bank, so a refund as well would pay the cardholder twice, and once decided Stripe
#: refuses a refund of the payment all the same. Never said for an inquiry (``INQUIRY``).
REFUND_REFUSED = (
    "This payment is disputed by the cardholder's bank, so it cannot be refunded here. "
    "Stripe does not refund a payment once its bank has raised a chargeback, while the "
    "dispute is open or after it is decided: answer an open dispute in Stripe; once it is "
    "decided, anything still owed to the customer has to be paid back another way."
)

#: Said beside a payment whose bank has only asked about it (Stripe's ``warning_*``): no
#: money has moved, and a refund is allowed (Stripe's ``is_charge_refundable``).
INQUIRY = (
    "The cardholder's bank has asked about this payment (an inquiry, not yet a dispute). "
    "You can still refund it; doing so usually closes the inquiry."
)


def reason_words(reason: str | None) -> str:
    if not reason:
        return "No reason given"
    return REASON_WORDS.get(reason, reason.replace("_", " ").capitalize())


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


def zone_label(zone: ZoneInfo) -> str:
    return "UK time" if zone.key == "Europe/London" else zone.key


def display_zone() -> ZoneInfo:
    """The time zone staff read times in (``DELIVERY_TIMEZONE``, UK time by default)."""
    return ZoneInfo(current_app.config.get("DELIVERY_TIMEZONE") or "Europe/London")


def due_words(due_by: datetime | None, zone: ZoneInfo) -> str:
    """``due_by`` in ``zone``, named: "14 Dec 2026 23:59 UK time"; "" for None."""
    if due_by is None:
        return ""
    return f"{due_by.astimezone(zone):%d %b %Y %H:%M} {zone_label(zone)}"


#: How a closed dispute ended (``dispute.closed``'s ``outcome``), in words.
ENDING_WORDS = {
    DisputeStatus.WON: "won (the money stays with us)",
    DisputeStatus.LOST: "lost (the money went back to the cardholder)",
    DisputeStatus.WARNING_CLOSED: "the bank's inquiry was closed",
}


def audit_words(
    action: str, details: dict | None, what: str, zone: ZoneInfo
) -> tuple[str, list[str]]:
    """A ``dispute.*`` audit row (``portal.disputes.sync``) for the timeline: ``what`` it
    says (with how a closed dispute ended) and its detail lines in a clerk's words: the
    reason, the amount, the status and when the evidence is due, in ``zone``."""
    details = dict(details or {})
    if action == "dispute.closed" and details.get("outcome"):
        what = f"{what}: {ENDING_WORDS.get(details['outcome'], details['outcome'])}"
    lines = []
    if details.get("dispute_reason"):
        lines.append(f"reason: {reason_words(details['dispute_reason'])}")
    amount = format_known_amount(details.get("amount_minor"), details.get("currency") or "")
    if amount:
        lines.append(f"amount: {amount}")
    if action != "dispute.closed":
        if details.get("dispute_status"):
            lines.append(f"status: {status_words(details['dispute_status'])}")
        if details.get("evidence_due_by"):
            due_by = datetime.fromisoformat(details["evidence_due_by"])
            lines.append(f"evidence due: {due_words(due_by, zone)}")
    if details.get("stripe_dispute"):
        lines.append(f"Stripe dispute: {details['stripe_dispute']}")
    return what, lines
