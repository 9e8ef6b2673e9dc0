"""Stripe's test cards and ready-made test PaymentMethod ids, with the outcome each one causes.

Only numbers from Stripe's testing documentation are accepted. Any other number, even a valid
one, is refused as Stripe's test mode refuses a live card, so real card data never lives here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    """How the issuer refuses: Stripe's error ``code``/``decline_code`` and wording."""

    code: str
    message: str
    decline_code: str | None = None
    param: str | None = None
    #: Refused by Stripe's fraud screening (Radar) rather than by the issuer.
    blocked: bool = False

    @property
    def reason(self) -> str:
        """``outcome.reason`` on the failed charge."""
        if self.blocked:
            return "highest_risk_level"
        return self.decline_code or self.code

    @property
    def seller_message(self) -> str:
        if self.blocked:
            return "Stripe blocked this payment as too risky."
        if self.reason == "generic_decline":
            return "The bank did not return any further details with this decline."
        return f"The bank returned the decline code `{self.reason}`."


_DECLINED = "Your card was declined."
DECLINES = {
    "generic_decline": Decline("card_declined", _DECLINED, "generic_decline"),
    "insufficient_funds": Decline(
        "card_declined", "Your card has insufficient funds.", "insufficient_funds"
    ),
    "lost_card": Decline("card_declined", _DECLINED, "lost_card"),
    "stolen_card": Decline("card_declined", _DECLINED, "stolen_card"),
    "card_velocity_exceeded": Decline(
        "card_declined",
        "Your card was declined for making repeated attempts too frequently "
        "or exceeding its amount limit.",
        "card_velocity_exceeded",
    ),
    "expired_card": Decline("expired_card", "Your card has expired.", param="exp_month"),
    "incorrect_cvc": Decline(
        "incorrect_cvc", "Your card's security code is incorrect.", param="cvc"
    ),
    "processing_error": Decline(
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    # Radar blocks the payment before it reaches the card network (4100 0000 0000 0019).
    "fraudulent": Decline("card_declined", _DECLINED, "fraudulent", blocked=True),
}


@dataclass(frozen=True)
class TestCard:
    """A test card as the sandbox remembers it: no number and no CVC, only what Stripe shows."""

    __test__ = False  # not a pytest test class, despite the name

    last4: str
    brand: str
    funding: str
    country: str
    fingerprint: str
    requires_authentication: bool = False
    #: Key into DECLINES, or None when the issuer approves.
    decline: str | None = None
    #: What happens after an approved charge: None, or one of AFTERMATHS.
    aftermath: str | None = None

    @property
    def decline_reason(self) -> Decline | None:
        return DECLINES[self.decline] if self.decline else None


#: What Stripe's special test cards do after the charge succeeds:
#: ``refund_pending``  a refund starts ``pending`` (until ``/_sandbox/refunds/advance``);
#: ``refund_fails``    a refund starts ``succeeded`` and later becomes ``failed``;
#: ``dispute``         the cardholder disputes the charge at once (reason ``fraudulent``).
AFTERMATHS = ("refund_pending", "refund_fails", "dispute")

# number: (brand, funding, country, requires 3-D Secure, decline)
_TEST_NUMBERS: dict[str, tuple[str, str, str, bool, str | None]] = {
    "4242424242424242": ("visa", "credit", "US", False, None),
    "4000056655665556": ("visa", "debit", "US", False, None),
    "5555555555554444": ("mastercard", "credit", "US", False, None),
    "2223003122003222": ("mastercard", "credit", "US", False, None),
    "5200828282828210": ("mastercard", "debit", "US", False, None),
    "378282246310005": ("amex", "credit", "US", False, None),
    "6011111111111117": ("discover", "credit", "US", False, None),
    "4000008260000000": ("visa", "credit", "GB", False, None),
    "4000058260000005": ("visa", "debit", "GB", False, None),
    "5555558265554449": ("mastercard", "credit", "GB", False, None),
    "4000000000000002": ("visa", "credit", "US", False, "generic_decline"),
    "4000000000009995": ("visa", "credit", "US", False, "insufficient_funds"),
    "4000000000009987": ("visa", "credit", "US", False, "lost_card"),
    "4000000000009979": ("visa", "credit", "US", False, "stolen_card"),
    "4000000000006975": ("visa", "credit", "US", False, "card_velocity_exceeded"),
    "4000000000000069": ("visa", "credit", "US", False, "expired_card"),
    "4000000000000127": ("visa", "credit", "US", False, "incorrect_cvc"),
    "4000000000000119": ("visa", "credit", "US", False, "processing_error"),
    "4000002760003184": ("visa", "credit", "DE", True, None),
    "4000002500003155": ("visa", "credit", "US", True, None),
    "4000000000003220": ("visa", "credit", "US", True, None),
    "4000000000003063": ("visa", "credit", "US", True, None),
    "4000008260003178": ("visa", "credit", "GB", True, "insufficient_funds"),
    "4000000000007726": ("visa", "credit", "US", False, None),
    "4000000000005126": ("visa", "credit", "US", False, None),
    "4000000000000259": ("visa", "credit", "US", False, None),
    # Attaching to a Customer works; every charge is declined (the sandbox has no Customers).
    "4000000000000341": ("visa", "credit", "US", False, "generic_decline"),
    "4100000000000019": ("visa", "credit", "US", False, "fraudulent"),
}
_AFTERMATH_OF = {
    "4000000000007726": "refund_pending",
    "4000000000005126": "refund_fails",
    "4000000000000259": "dispute",
}

#: Stripe's ready-made PaymentMethod ids and the test numbers they stand for.
PAYMENT_METHOD_SHORTCUTS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_mastercard_debit": "5200828282828210",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_gb": "4000008260000000",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedVelocityLimitExceeded": "4000000000006975",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_threeDSecureRequired": "4000000000003063",
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": "4000008260003178",
    "pm_card_pendingRefund": "4000000000007726",
    "pm_card_refundFail": "4000000000005126",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_radarBlock": "4100000000000019",
}

#: Stripe's test card tokens (``card[token]`` or ``payment_method_data[card][token]``), the
#: safe way to name a test card with the secret key. ``tok_sandbox_google_pay`` stands for the
#: token a wallet hands over: the sandbox's test wallet button makes it (see README.md).
TEST_TOKENS = {
    "tok_visa": "4242424242424242",
    "tok_visa_debit": "4000056655665556",
    "tok_mastercard": "5555555555554444",
    "tok_amex": "378282246310005",
    "tok_gb": "4000008260000000",
    "tok_chargeDeclined": "4000000000000002",
    "tok_sandbox_google_pay": "4242424242424242",
}
#: Tokens that come from a wallet, and which wallet (``card.wallet.type``).
WALLET_TOKENS = {"tok_sandbox_google_pay": "google_pay"}


def luhn_valid(number: str) -> bool:
    if not re.fullmatch(r"\d{12,19}", number):
        return False
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(number)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def find_test_card(number: str) -> TestCard | None:
    """The test card for ``number`` (spaces allowed), or None if it is not a Stripe test card."""
    digits = number.replace(" ", "")
    entry = _TEST_NUMBERS.get(digits)
    if entry is None:
        return None
    brand, funding, country, authenticate, decline = entry
    # Stripe's fingerprint identifies a number without revealing it; any stable digest will do.
    fingerprint = hashlib.sha256(f"stripe-sandbox:{digits}".encode()).hexdigest()[:16]
    return TestCard(
        last4=digits[-4:],
        brand=brand,
        funding=funding,
        country=country,
        fingerprint=fingerprint,
        requires_authentication=authenticate,
        decline=decline,
        aftermath=_AFTERMATH_OF.get(digits),
    )
