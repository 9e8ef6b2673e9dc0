"""The facts of a receipt and of a refund notice, in the words a customer reads.

Only what the receipt email itself says: the organisation, the amount, what it was for, the
reference, the card's brand and last four digits, the date (UK time) and the payment number.
Never a name, an email address, an expiry date or the agent. The receipt page shows these
facts only on the device the link is bound to; anyone else holding the link is told only that
the payment was received (``portal.customer.views``).

Reads the rows only (no Stripe call): the payment as Postern last learned it. Refund totals and
disputes are not read here: ``portal.refunds.queries.refund_totals`` is their one home, and this
package sits below refunds (refunds queue their notices through ``portal.delivery``, which
renders them from here), so the receipt page passes them in. The email carries none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import current_language, gettext, lazy_gettext
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment, PaymentStatus
from portal.models.refund import Refund
from portal.money import format_amount

#: Card brands as Stripe names them -> as the card says.
BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}
#: When refunded money usually reaches a card (what Stripe tells merchants to tell customers).
#: Lazy: translated when shown, into the page's or the message's language.
REFUND_ARRIVAL = lazy_gettext("usually within 5 to 10 working days")


def card_words(brand: str | None, last4: str | None) -> str | None:
    """``"Visa ending 4242"``; None when the last four digits are not known."""
    if not last4:
        return None
    name = BRANDS.get((brand or "").lower()) or (brand or gettext("card")).replace("_", " ").title()
    return gettext("%(brand)s ending %(last4)s", brand=name, last4=last4)


def local_date(value: datetime) -> str:
    """``"7 December 2026 at 14:35 UK time"``: a receipt's date, in the configured zone and the
    language being rendered (``"7 Rhagfyr 2026 am 14:35 amser y DU"``)."""
    config = current_app.config
    local = value.astimezone(ZoneInfo(config.get("DELIVERY_TIMEZONE", "Europe/London")))
    label = config.get("DELIVERY_TIMEZONE_LABEL", "UK time")
    return gettext(
        "%(date)s at %(time)s %(zone)s",
        date=format_date(local, "d MMMM y", locale=current_language()),
        time=f"{local:%H:%M}",
        zone=gettext(label),
    )


@dataclass(frozen=True)
class Receipt:
    """A paid payment as its receipt states it. Amounts are formatted (``"£12.50"``)."""

    org_name: str
    amount: str
    purpose: str | None
    reference: str | None
    card: str | None
    paid_at: str
    payment_number: str
    #: Refunds that succeeded, in total (None if nothing was refunded).
    refunded: str | None
    #: Refunds asked for and still on their way (None if none).
    refund_on_its_way: str | None
    fully_refunded: bool
    #: The card issuer took the payment back (a dispute the cardholder won): the receipt then
    #: says so and shows no figure beyond the amount.
    reversed_by_bank: bool = False
    refund_arrival: str = REFUND_ARRIVAL


@dataclass(frozen=True)
class RefundNotice:
    """A succeeded refund as its notice states it."""

    org_name: str
    amount: str
    paid_amount: str
    purpose: str | None
    reference: str | None
    card: str | None
    refunded_at: str
    payment_number: str
    arrival: str = REFUND_ARRIVAL


def receipt_of(
    payment: Payment,
    *,
    refunded_minor: int = 0,
    refund_pending_minor: int = 0,
    reversed_by_bank: bool = False,
) -> Receipt:
    """The receipt of a succeeded ``payment`` (needs an application context). The refund totals
    (``portal.refunds.queries.refund_totals``: succeeded, on its way) and whether a dispute was
    lost are the caller's to give; the receipt email gives none. A reversed payment shows no
    refund figures: the bank's reversal, not a refund, is what happened to the money."""
    request = payment.capture_request
    shown_refunded = 0 if reversed_by_bank else refunded_minor
    shown_pending = 0 if reversed_by_bank else refund_pending_minor
    return Receipt(
        org_name=current_app.config["ORG_NAME"],
        amount=format_amount(payment.amount_minor, payment.currency),
        purpose=request.purpose,
        reference=request.reference,
        card=card_words(payment.card_brand, payment.card_last4),
        paid_at=local_date(payment.succeeded_at or payment.updated_at),
        payment_number=request.public_id,
        refunded=format_amount(shown_refunded, payment.currency) if shown_refunded else None,
        refund_on_its_way=(
            format_amount(shown_pending, payment.currency) if shown_pending else None
        ),
        fully_refunded=not reversed_by_bank and refunded_minor >= payment.amount_minor,
        reversed_by_bank=reversed_by_bank,
    )


def paid_payment_of(request: CaptureRequest) -> Payment | None:
    """The request's payment if it succeeded (money was taken), else None."""
    return db.session.execute(
        select(Payment).where(
            Payment.capture_request_id == request.id,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
    ).scalar_one_or_none()


def refund_notice_of(refund: Refund) -> RefundNotice:
    """The notice of a succeeded ``refund`` (needs an application context)."""
    payment = refund.payment
    request = payment.capture_request
    return RefundNotice(
        org_name=current_app.config["ORG_NAME"],
        amount=format_amount(refund.amount_minor, refund.currency),
        paid_amount=format_amount(payment.amount_minor, payment.currency),
        purpose=request.purpose,
        reference=request.reference,
        card=card_words(payment.card_brand, payment.card_last4),
        refunded_at=local_date(refund.completed_at or refund.updated_at),
        payment_number=request.public_id,
    )
