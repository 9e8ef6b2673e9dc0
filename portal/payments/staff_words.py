"""Stripe's terms as staff read them: the one home for turning its codes into plain English.

Agents read these aloud on the call and clerks read them in the back office, so neither ever
sees "requires_payment_method" or "card_declined (insufficient_funds)". The customer's own
wording is ``portal.payments.messages`` (second person, with what to do next); these are the
same facts in the third person. Pure: no database, no Flask.
"""

from __future__ import annotations

from portal.i18n import N_
from portal.models.payment import PaymentStatus
from portal.payments.facts import AUTHENTICATION_FAILURE

#: Why a card attempt failed, in words an agent can say aloud on the call. Declines that hint
#: at fraud (lost, stolen, pickup, fraudulent) get the plain "the bank did not say why", as the
#: customer's page gives them its generic words: nobody on the line learns more than the
#: card's owner should.
DECLINE_WORDS: dict[str, str] = {
    "insufficient_funds": N_("there is not enough money available on the card"),
    "card_velocity_exceeded": N_("the card has reached its spending limit"),
    "expired_card": N_("the card has expired"),
    "incorrect_cvc": N_("the security code was not right"),
    "invalid_cvc": N_("the security code was not right"),
    "incorrect_number": N_("the card number was not right"),
    "invalid_number": N_("the card number was not right"),
    "invalid_expiry_month": N_("the expiry date was not right"),
    "invalid_expiry_year": N_("the expiry date was not right"),
    "processing_error": N_("something went wrong while the card was checked; they can try again"),
    "try_again_later": N_("something went wrong while the card was checked; they can try again"),
    "authentication_required": N_("their bank's security check (3-D Secure) was not completed"),
    AUTHENTICATION_FAILURE: N_("their bank's security check (3-D Secure) was not completed"),
    "card_not_supported": N_("this card cannot be used for this payment"),
    "currency_not_supported": N_("this card cannot be used for this payment"),
}
GENERIC_DECLINE_WORDS = N_("the bank did not say why")

#: A PaymentIntent's status (``Payment.status``, Stripe's own strings) in words.
PAYMENT_STATUS_WORDS: dict[str, str] = {
    PaymentStatus.CREATING: N_("Being set up with Stripe"),
    PaymentStatus.REQUIRES_PAYMENT_METHOD: N_("Waiting for the customer's card"),
    PaymentStatus.REQUIRES_CONFIRMATION: N_("Waiting for the customer to pay"),
    PaymentStatus.REQUIRES_ACTION: N_("Waiting for the customer's bank check (3-D Secure)"),
    PaymentStatus.PROCESSING: N_("Being processed by the bank"),
    PaymentStatus.REQUIRES_CAPTURE: N_("Authorised, not yet taken"),
    PaymentStatus.SUCCEEDED: N_("Paid"),
    PaymentStatus.CANCELLED: N_("Cancelled"),
}

#: Stripe's 3-D Secure results (``three_d_secure.result``, or our "failed") in words.
THREE_D_SECURE_WORDS = {
    "authenticated": N_("Confirmed by the customer with their bank"),
    "attempt_acknowledged": N_("Bank did not ask for a check (attempt recorded)"),
    "exempted": N_("Bank exempted the payment from the check"),
    "not_supported": N_("Card does not support the check"),
    "processing_error": N_("The check could not be completed (bank error)"),
    "failed": N_("The customer did not pass their bank's check"),
}

#: A card attempt's outcome (``PaymentAttempt.outcome``) in words.
ATTEMPT_OUTCOME_WORDS = {"succeeded": N_("paid"), "failed": N_("declined")}


def decline_words(failure_code: str | None, decline_code: str | None) -> str:
    """Why the last attempt failed, for the agent to read aloud (the generic words for any
    code not listed, fraud hints included)."""
    for code in (decline_code, failure_code):
        if code and code in DECLINE_WORDS:
            return DECLINE_WORDS[code]
    return GENERIC_DECLINE_WORDS


def payment_status_words(status: str | None) -> str:
    """``"requires_payment_method"`` -> ``"Waiting for the customer's card"``; a status Stripe
    adds later reads as its words with spaces, never as an error."""
    if not status:
        return N_("No payment yet")
    return PAYMENT_STATUS_WORDS.get(status) or status.replace("_", " ").capitalize()


def attempt_outcome_words(outcome: str | None) -> str:
    """``"failed"`` -> ``"declined"``: what a card attempt came to."""
    return ATTEMPT_OUTCOME_WORDS.get(outcome or "", (outcome or "unknown").replace("_", " "))
