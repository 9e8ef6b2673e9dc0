"""The rules a new capture request must meet, whoever asks: the agent's form, the integration
API, a command. One home, so the console and the API cannot disagree.

``check_new_request`` raises ``CaptureError`` with the words to show and the ``field`` at fault
(the form's field names, which are the API's parameter names too). The form checks most of
these field by field first, for the agent's sake; this is the rule that holds either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

from portal.capture import identity, kinds
from portal.capture.errors import CaptureError
from portal.card_numbers import contains_pan
from portal.charge_limits import check_card_amount
from portal.i18n import LANGUAGES, N_
from portal.money import AmountError, exponent, format_amount
from portal.security.validators import CARD_NUMBER_MESSAGE

if TYPE_CHECKING:
    from portal.capture.service import RequestSpec

#: The free-text fields of a request, each checked for card numbers.
TEXT_FIELDS = ("reference", "purpose", "interaction_id", "identity_value", "destination")


def max_expiry_minutes() -> int:
    return int(current_app.config["CAPTURE_MAX_EXPIRY_MINUTES"])


def check_new_request(spec: RequestSpec, *, purpose_required: bool = False) -> None:
    """Raise CaptureError (with ``field``) for the first rule ``spec`` breaks.

    ``purpose_required``: a payment must say what it is for (the customer reads it). The
    console's form and the API ask for it; commands and older callers may leave it out."""
    for name in TEXT_FIELDS:
        value = getattr(spec, name)
        if isinstance(value, str) and contains_pan(value):
            raise CaptureError(CARD_NUMBER_MESSAGE, field=name)
    if spec.language not in LANGUAGES:
        raise CaptureError(N_("Choose the customer's language: en or cy."), field="language")
    if spec.kind not in kinds.KINDS:
        raise CaptureError(
            N_("Choose what the request is for: payment, data or both."), field="kind"
        )
    if spec.channel not in kinds.CHANNELS:
        raise CaptureError(N_("Choose how to send the link: sms, email or copy."), field="channel")
    if not (spec.reference or "").strip():
        raise CaptureError(N_("Enter a reference."), field="reference")
    if not 1 <= spec.expiry_minutes <= max_expiry_minutes():
        raise CaptureError(
            f"Choose an expiry between 1 and {max_expiry_minutes()} minutes.",
            field="expiry_minutes",
        )
    if spec.kind in kinds.PAYMENT_KINDS:
        _check_payment(spec, purpose_required)
    if spec.kind in kinds.DATA_KINDS:
        if not spec.field_set:
            raise CaptureError(
                N_("A data request needs the set of details to collect."), field="field_set"
            )
        if spec.field_set not in kinds.FIELD_SETS:
            raise CaptureError(N_("Choose one of the listed sets of details."), field="field_set")
    if spec.identity_item:
        if spec.identity_item not in identity.ITEMS:
            raise CaptureError(
                N_("Choose a postcode, date of birth or surname check."), field="identity_item"
            )
        try:
            identity.normalise(spec.identity_item, spec.identity_value or "")
        except identity.IdentityFormatError as problem:
            raise CaptureError(f"Identity check: {problem}", field="identity_value") from None


def _check_payment(spec: RequestSpec, purpose_required: bool) -> None:
    if not spec.amount_minor or not spec.currency:
        raise CaptureError(
            N_("A payment request needs an amount and a currency."),
            field="amount" if not spec.amount_minor else "currency",
        )
    allowed = current_app.config["CAPTURE_CURRENCIES"]
    if spec.currency not in allowed:
        raise CaptureError(
            f"Payments here are taken in {', '.join(allowed)} only.", field="currency"
        )
    if purpose_required and not (spec.purpose or "").strip():
        raise CaptureError(N_("Say what the payment is for."), field="purpose")
    try:
        # An amount Stripe would refuse is refused now, never at the customer's payment.
        check_card_amount(spec.amount_minor, spec.currency)
        most = current_app.config["CAPTURE_MAX_AMOUNT_MAJOR"] * 10 ** exponent(spec.currency)
    except AmountError as problem:
        raise CaptureError(str(problem), field="amount") from None
    if spec.amount_minor > most:
        raise CaptureError(
            f"The most you can request is {format_amount(most, spec.currency)}.", field="amount"
        )
