"""What disputes are called in the back office: Stripe's reasons and statuses in plain words
that a clerk can read aloud, and the evidence deadline in the contact centre's own time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from portal.i18n import N_
from portal.models.dispute import DisputeStatus
from portal.money import format_known_amount

#: Stripe's dispute reasons (``dispute.reason``) in words; anything new reads as its code.
REASON_WORDS = {
    "bank_cannot_process": N_("The cardholder's bank could not process the payment"),
    "check_returned": N_("The cheque was returned"),
    "credit_not_processed": N_("The cardholder says a promised refund never arrived"),
    "customer_initiated": N_("The cardholder asked their bank to reverse the payment"),
    "debit_not_authorized": N_("The cardholder says they did not authorise the debit"),
    "duplicate": N_("The cardholder says they were charged twice"),
    "fraudulent": N_("The cardholder says they did not make this payment"),
    "general": N_("The cardholder's bank gave no specific reason"),
    "incorrect_account_details": N_("The account details were wrong"),
    "insufficient_funds": N_("There was not enough money in the account"),
    "noncompliant": N_("The bank says the payment broke the card scheme's rules"),
    "product_not_received": N_("The cardholder says they did not receive what they paid for"),
    "product_unacceptable": N_(
        "The cardholder says what they received was faulty or not as described"
    ),
    "subscription_canceled": N_("The cardholder says they had cancelled"),
    "unrecognized": N_("The cardholder does not recognise the payment"),
}

STATUS_WORDS = {
    DisputeStatus.WARNING_NEEDS_RESPONSE: N_("Inquiry from the bank: a response is needed"),
    DisputeStatus.WARNING_UNDER_REVIEW: N_("Inquiry from the bank: under review"),
    DisputeStatus.WARNING_CLOSED: N_("Inquiry closed"),
    DisputeStatus.NEEDS_RESPONSE: N_("Disputed: evidence is needed"),
    DisputeStatus.UNDER_REVIEW: N_("Disputed: the bank is reviewing the evidence"),
    DisputeStatus.WON: N_("Dispute won: the money stays with us"),
    DisputeStatus.LOST: N_("Dispute lost: the money went back to the cardholder"),
}

#: Said when a refund is asked for after a chargeback (by us, or by Stripe with
#: ``charge_disputed``), open or decided: while it is open Stripe has taken the disputed amount
#: for the bank, so a refund as well would pay the cardholder twice, and once decided Stripe
#: refuses a refund of the payment all the same. Never said for an inquiry (``INQUIRY``).
REFUND_REFUSED = N_(
    "This payment is disputed by the cardholder's bank, so it cannot be refunded here. "
    "Stripe does not refund a payment once its bank has raised a chargeback, while the "
    "dispute is open or after it is decided: answer an open dispute in Stripe; once it is "
    "decided, anything still owed to the customer has to be paid back another way."
)

#: Said beside a payment whose bank has only asked about it (Stripe's ``warning_*``): no
#: money has moved, and a refund is allowed (Stripe's ``is_charge_refundable``).
INQUIRY = N_(
    "The cardholder's bank has asked about this payment (an inquiry, not yet a dispute). "
    "You can still refund it; doing so usually closes the inquiry."
)


def reason_words(reason: str | None) -> str:
    if not reason:
        return N_("No reason given")
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
    DisputeStatus.WON: N_("won (the money stays with us)"),
    DisputeStatus.LOST: N_("lost (the money went back to the cardholder)"),
    DisputeStatus.WARNING_CLOSED: N_("the bank's inquiry was closed"),
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
