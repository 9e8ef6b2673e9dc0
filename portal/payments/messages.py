"""What to tell a customer when a card attempt fails, in plain words, from Stripe's codes.

Each is marked (``N_``) and translated where a customer is shown it
(``portal.customer.payment_views``): staff read them in English.

Stripe's advice is followed: declines that hint at fraud (lost, stolen, pickup, fraudulent)
get the generic message, so a card thief learns nothing from the answer.
"""

from __future__ import annotations

from portal.i18n import N_

GENERIC_DECLINE = N_(
    "Your bank declined this payment. No money has been taken. "
    "Please try a different card, or call your bank."
)
AUTHENTICATION_FAILED = N_(
    "Your bank's security check was not completed, so the payment did not go through. "
    "No money has been taken. Please try again, or use a different card."
)
PROCESSING_ERROR = N_(
    "Something went wrong while your card was being checked. No money has been taken. "
    "Please try again."
)

#: decline_code (or Stripe error code) -> what the customer reads.
DECLINE_MESSAGES: dict[str, str] = {
    "generic_decline": GENERIC_DECLINE,
    "card_declined": GENERIC_DECLINE,
    "do_not_honor": GENERIC_DECLINE,
    "lost_card": GENERIC_DECLINE,
    "stolen_card": GENERIC_DECLINE,
    "pickup_card": GENERIC_DECLINE,
    "fraudulent": GENERIC_DECLINE,
    "merchant_blacklist": GENERIC_DECLINE,
    "insufficient_funds": (
        N_(
            "Your bank declined this payment because there is not enough money available "
            "on the card. No money has been taken. Please try a different card."
        )
    ),
    "card_velocity_exceeded": (
        N_(
            "Your bank declined this payment because the card has reached a limit. "
            "No money has been taken. Please try a different card, or call your bank."
        )
    ),
    "expired_card": (
        N_("This card has expired. Please check the expiry date, or use a different card.")
    ),
    "incorrect_cvc": (
        N_(
            "The security code is not right. It is the 3 digits on the back of the card "
            "(4 on the front for American Express). Please check it and try again."
        )
    ),
    "invalid_cvc": (
        N_(
            "The security code is not right. It is the 3 digits on the back of the card "
            "(4 on the front for American Express). Please check it and try again."
        )
    ),
    "incorrect_number": N_("The card number is not right. Please check it and try again."),
    "invalid_number": N_("The card number is not right. Please check it and try again."),
    "invalid_expiry_month": N_("The expiry date is not right. Please check it and try again."),
    "invalid_expiry_year": N_("The expiry date is not right. Please check it and try again."),
    "processing_error": PROCESSING_ERROR,
    "try_again_later": PROCESSING_ERROR,
    "authentication_required": AUTHENTICATION_FAILED,
    "payment_intent_authentication_failure": AUTHENTICATION_FAILED,
    "card_not_supported": (
        N_("This card cannot be used for this payment. Please use a different card.")
    ),
    "currency_not_supported": (
        N_("This card cannot be used for this payment. Please use a different card.")
    ),
}


def decline_message(failure_code: str | None, decline_code: str | None) -> str:
    """The customer's message for a failed attempt; the generic one for any unknown code."""
    for code in (decline_code, failure_code):
        if code and code in DECLINE_MESSAGES:
            return DECLINE_MESSAGES[code]
    return GENERIC_DECLINE


TOO_MANY_ATTEMPTS = N_(
    "This payment could not be completed after several tries, so we have stopped it for your "
    "security. No money has been taken. Please speak to the person who sent you the link."
)
CLOSED = {
    "expired": (
        N_(
            "This payment link has run out of time, so the payment has been stopped. No money "
            "has been taken. Please ask the person who sent it for a new link."
        )
    ),
    "revoked": (
        N_(
            "This payment link has been cancelled, so the payment has been stopped. No money has "
            "been taken. If you were not expecting this, please contact us."
        )
    ),
    "locked": (
        N_(
            "This payment link has been locked for your security. No money has been taken. "
            "Please speak to the person who sent it."
        )
    ),
    "failed": TOO_MANY_ATTEMPTS,
    "declined": (
        N_(
            "You chose not to give the details this request asked for, so the payment has been "
            "stopped. No money has been taken. Please speak to the person who sent the link."
        )
    ),
}
AMOUNT_NOT_ACCEPTED = N_(
    "This amount cannot be paid by card through our card payment provider, so no payment has "
    "been started and no money has been taken. Please speak to the person who sent you the "
    "link: a new link for the same amount would be refused too, so the amount itself has to "
    "change."
)
PROVIDER_UNAVAILABLE = N_(
    "We could not reach our card payment service just now. No money has been taken and your "
    "link still works. Please wait a minute, then try again."
)
