"""What a payment reads as, wherever people look: one vocabulary, derived from its facts.

``PaymentState`` names every moment of a card payment in words an agent or clerk can say
aloud ("Declined", "Refund pending", "Disputed"), never Stripe's status strings. ``standing``
is the ONE function turning a payment's facts (its PaymentIntent status, attempts, refunds and
dispute) into a frozen ``Standing``: the state, the money (paid, refunded, on its way back,
disputed, net) and the words. The agent's panel, the back office's list, detail, dashboard and
CSV all read it, so no two of them can disagree about a payment.

``portal.payments.standing_sql`` is the same rule over columns, for the queries that filter or
export on it; a test holds the two forms to the same answers.

Pure: no database, no Flask. Whoever gathers the facts (``portal.live_status.standings`` for
pages, ``portal.reporting.payment_columns`` as columns) passes them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portal.i18n import N_
from portal.models.dispute import (
    DisputeStatus,
    is_inquiry_status,
    is_open_status,
    status_withholds_funds,
)
from portal.models.payment import PaymentStatus
from portal.money import format_amount
from portal.payments.staff_words import (  # noqa: F401  (re-exported: standing's vocabulary)
    DECLINE_WORDS,
    GENERIC_DECLINE_WORDS,
    decline_words,
)


class PaymentState(StrEnum):
    NOT_STARTED = "not_started"
    ON_PAYMENT_PAGE = "on_payment_page"
    CONFIRMING = "confirming_with_bank"
    DECLINED = "declined"
    PROCESSING = "processing"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    REFUND_PENDING = "refund_pending"
    DISPUTED = "disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    CANCELLED = "cancelled"
    FAILED = "failed"


P = PaymentState
LABELS: dict[PaymentState, str] = {
    P.NOT_STARTED: N_("Not started"),
    P.ON_PAYMENT_PAGE: N_("On the payment page"),
    P.CONFIRMING: N_("Confirming with their bank"),
    P.DECLINED: N_("Declined"),
    P.PROCESSING: N_("Processing"),
    P.PAID: N_("Paid"),
    P.PARTIALLY_REFUNDED: N_("Partially refunded"),
    P.REFUNDED: N_("Refunded"),
    P.REFUND_PENDING: N_("Refund pending"),
    P.DISPUTED: N_("Disputed"),
    P.DISPUTE_WON: N_("Dispute won"),
    P.DISPUTE_LOST: N_("Dispute lost"),
    P.CANCELLED: N_("Cancelled"),
    P.FAILED: N_("Failed"),
}
#: How a panel colours the state: good news, bad news, waiting, or over and done with.
TONES: dict[PaymentState, str] = {
    P.PAID: "good",
    P.DISPUTE_WON: "good",
    P.DECLINED: "bad",
    P.FAILED: "bad",
    P.DISPUTED: "bad",
    P.DISPUTE_LOST: "bad",
    P.REFUNDED: "muted",
    P.PARTIALLY_REFUNDED: "muted",
    P.CANCELLED: "muted",
}
#: States in which money was taken (whatever happened to it since).
MONEY_TAKEN = frozenset(
    {
        P.PAID,
        P.PARTIALLY_REFUNDED,
        P.REFUNDED,
        P.REFUND_PENDING,
        P.DISPUTED,
        P.DISPUTE_WON,
        P.DISPUTE_LOST,
    }
)

D = DisputeStatus
# What each dispute status means (open, an inquiry, money taken back; an unknown status) is
# ``portal.models.dispute``'s to say, here and in ``standing_sql`` alike. Why a card attempt
# failed, in words (``DECLINE_WORDS``, ``decline_words``), is ``portal.payments.staff_words``'s.


def card_label(brand: str | None, last4: str | None) -> str | None:
    """``Visa •••• 4242``: brand and last four digits, never more."""
    if not last4:
        return None
    return f"{(brand or 'Card').title()} \u2022\u2022\u2022\u2022 {last4}"


@dataclass(frozen=True)
class PaymentFacts:
    """What is known about a payment. ``status`` is ``Payment.status`` (None: no payment row
    yet). Refund and dispute figures are in minor units of ``currency``: ``refunded_minor``
    sums refunds Stripe says succeeded, ``pending_refund_minor`` those on their way
    (``portal.refunds.queries.PENDING_STATUSES``); the dispute is the payment's latest."""

    status: str | None
    amount_minor: int
    currency: str
    failed_attempts: int = 0
    max_attempts: int = 3
    failure_code: str | None = None
    decline_code: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    refunded_minor: int = 0
    pending_refund_minor: int = 0
    dispute_status: str | None = None
    dispute_amount_minor: int = 0


@dataclass(frozen=True)
class Standing:
    """What a person reads about a payment. Amounts in minor units of ``currency``."""

    state: PaymentState
    currency: str
    amount_minor: int
    paid_minor: int
    refunded_minor: int
    pending_refund_minor: int
    disputed_minor: int
    net_minor: int
    attempts_left: int
    label: str
    detail: str
    tone: str
    card: str | None
    card_brand: str | None
    card_last4: str | None
    #: Why the last attempt failed, in words (only while the payment is declined or failed).
    decline_reason: str | None
    #: The latest dispute's status as Stripe names it, once money was taken (words for it:
    #: ``portal.disputes.wording``).
    dispute_status: str | None

    @property
    def money_taken(self) -> bool:
        return self.state in MONEY_TAKEN

    def amount(self, minor: int) -> str:
        return format_amount(minor, self.currency)

    @property
    def card_parts(self) -> dict | None:
        """The card as the agent may see it: ``{"brand", "last4"}``, nothing more."""
        if self.card is None:
            return None
        return {"brand": (self.card_brand or "Card").title(), "last4": self.card_last4}


def state_of(facts: PaymentFacts) -> PaymentState:
    """The state alone (``standing`` has the rest). ``standing_sql.state_sql`` is the same rule
    in SQL."""
    status = facts.status
    if status is None:
        return P.NOT_STARTED
    if status == PaymentStatus.SUCCEEDED:
        dispute = facts.dispute_status
        if is_open_status(dispute):
            return P.DISPUTED
        if dispute == D.LOST:
            return P.DISPUTE_LOST
        if facts.pending_refund_minor > 0:
            return P.REFUND_PENDING
        if facts.refunded_minor >= facts.amount_minor:
            return P.REFUNDED
        if facts.refunded_minor > 0:
            return P.PARTIALLY_REFUNDED
        if dispute == D.WON:
            return P.DISPUTE_WON
        return P.PAID
    limit_reached = facts.failed_attempts >= facts.max_attempts
    if status == PaymentStatus.CANCELLED:
        return P.FAILED if limit_reached else P.CANCELLED
    if status == PaymentStatus.REQUIRES_ACTION:
        return P.CONFIRMING
    if status in (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_CAPTURE):
        return P.PROCESSING
    if limit_reached:  # the cancellation at Stripe is on its way
        return P.FAILED
    if facts.failure_code or facts.decline_code:
        return P.DECLINED
    return P.ON_PAYMENT_PAGE


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _detail(state: PaymentState, facts: PaymentFacts, s: dict) -> str:
    money = lambda minor: format_amount(minor, facts.currency)  # noqa: E731
    paid_with = f" with {s['card']}" if s["card"] else ""
    if state is P.NOT_STARTED:
        return "The customer has not reached the payment page yet."
    if state is P.ON_PAYMENT_PAGE:
        return "The customer is on the payment page and can enter their card details."
    if state is P.CONFIRMING:
        return (
            "The customer is confirming the payment with their bank (3-D Secure). "
            "No money has been taken yet."
        )
    if state is P.DECLINED:
        return f"Declined: {s['reason']}. No money was taken. {_plural(s['left'], 'attempt')} left."
    if state is P.PROCESSING:
        return "The bank is processing the payment. No need to retry: the outcome will follow."
    if state is P.FAILED:
        reason = f" The last one: {s['reason']}." if s["reason"] else ""
        return f"Stopped after too many declined attempts. No money was taken.{reason}"
    if state is P.CANCELLED:
        return "The payment was stopped before any money was taken."
    paid = f"{money(facts.amount_minor)} paid{paid_with}."
    refunded = f" {money(s['refunded'])} refunded." if s["refunded"] else ""
    net = f" {money(s['net'])} kept."
    if state is P.PAID:
        return paid
    if state is P.REFUNDED:
        return f"{paid} Refunded in full ({money(s['refunded'])}); nothing kept."
    if state is P.PARTIALLY_REFUNDED:
        return f"{paid}{refunded}{net}"
    if state is P.REFUND_PENDING:
        on_way = money(facts.pending_refund_minor)
        return f"{paid}{refunded} A refund of {on_way} is on its way to the customer's card."
    # Refunds are named before a dispute, so the figures add up to what is kept.
    if state is P.DISPUTED and is_inquiry_status(facts.dispute_status):
        return (
            f"{paid}{refunded} The customer's bank is asking about {money(s['disputed'])} "
            f"(an inquiry): the dispute has moved no money yet.{net}"
        )
    if state is P.DISPUTED:
        return (
            f"{paid}{refunded} The customer's bank has disputed {money(s['disputed'])}: "
            f"the money is held until the dispute is decided.{net}"
        )
    if state is P.DISPUTE_LOST:
        return f"{paid}{refunded} The dispute was lost: {money(s['disputed'])} went back.{net}"
    return f"{paid} A dispute was decided in our favour.{refunded}{net}"  # DISPUTE_WON


@dataclass(frozen=True)
class Money:
    """The money of a payment in ``state``, in minor units: all zero until money was taken."""

    paid: int
    refunded: int
    pending_refund: int
    disputed: int
    net: int


NO_MONEY = Money(0, 0, 0, 0, 0)


def money_of(facts: PaymentFacts, state: PaymentState) -> Money:
    """Paid, refunded, on its way back, disputed and net (what we keep: paid less refunds and
    any dispute whose funds Stripe took back). ``standing_sql.net_sql`` is the same sum in SQL."""
    if state not in MONEY_TAKEN:
        return NO_MONEY
    dispute = facts.dispute_status
    disputed = facts.dispute_amount_minor if dispute and dispute != D.WARNING_CLOSED else 0
    withheld = facts.dispute_amount_minor if status_withholds_funds(dispute) else 0
    # Never below nothing: Stripe lets no refund and dispute together exceed the charge.
    net = max(facts.amount_minor - facts.refunded_minor - withheld, 0)
    return Money(
        facts.amount_minor, facts.refunded_minor, facts.pending_refund_minor, disputed, net
    )


def standing(facts: PaymentFacts) -> Standing:
    """Everything a person reads about the payment with ``facts``."""
    state = state_of(facts)
    taken = state in MONEY_TAKEN
    money = money_of(facts, state)
    paid, refunded, pending = money.paid, money.refunded, money.pending_refund
    disputed, net = money.disputed, money.net
    dispute = facts.dispute_status if taken else None
    left = max(facts.max_attempts - facts.failed_attempts, 0)
    failed = state in (P.DECLINED, P.FAILED) and bool(facts.failure_code or facts.decline_code)
    reason = decline_words(facts.failure_code, facts.decline_code) if failed else None
    card = card_label(facts.card_brand, facts.card_last4) if taken else None
    parts = {
        "card": card,
        "reason": reason,
        "left": left,
        "refunded": refunded,
        "net": net,
        "disputed": disputed,
    }
    label = LABELS[state]
    if state is P.DECLINED:
        label = f"Declined ({_plural(left, 'attempt')} left)"
    return Standing(
        state=state,
        currency=facts.currency,
        amount_minor=facts.amount_minor,
        paid_minor=paid,
        refunded_minor=refunded,
        pending_refund_minor=pending,
        disputed_minor=disputed,
        net_minor=net,
        attempts_left=left,
        label=label,
        detail=_detail(state, facts, parts),
        tone=TONES.get(state, "active"),
        card=card,
        card_brand=facts.card_brand if card else None,
        card_last4=facts.card_last4 if card else None,
        decline_reason=reason,
        dispute_status=dispute,
    )
