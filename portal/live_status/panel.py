"""What the agent's live status panel shows about a request, in plain words.

One function, ``panel_data``, feeds both the server-rendered console and the JSON the console
polls, so the two can never disagree. It holds nothing captured from the customer: no personal
data, not even the identity answer's hash, and of a card only its brand and last four digits
(never its number or expiry); only progress and outcomes.

Once the customer reaches the payment page, what the payment reads as
(``portal.payments.standing``: on the payment page, confirming with their bank, declined with
the reason and the attempts left, paid, refunded, disputed...) is the panel's headline: the
request's own status ("Identity confirmed", "In progress") says nothing about the money.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.orm import selectinload

from portal.capture import identity, kinds, states
from portal.capture.states import NOT_YET_VERIFIED, TRANSITIONS, Status
from portal.delivery import outbox
from portal.disputes import wording as dispute_wording
from portal.live_status import wording
from portal.live_status.standings import standings_for
from portal.live_status.wording import STARTED_LABEL
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage
from portal.models.types import utcnow
from portal.money import format_known_amount
from portal.payments.standing import PaymentState, Standing
from portal.personal_data import service as data_service


@cache  # options are immutable; building one costs more than the rest of a poll's query
def with_deliveries(strategy=selectinload):
    """Loader option for queries whose requests become panels: their messages come with them
    instead of one query per panel (``joinedload`` for one request: the same round trip;
    ``selectinload`` for a list: one more), without the bodies, which carry the link and
    which a panel never shows."""
    return strategy(CaptureRequest.delivery_messages).load_only(
        DeliveryMessage.channel,
        DeliveryMessage.customer_notice,
        DeliveryMessage.backend,
        DeliveryMessage.destination_masked,
        DeliveryMessage.status,
        DeliveryMessage.attempts,
        DeliveryMessage.last_error,
        DeliveryMessage.next_attempt_at,
        DeliveryMessage.sent_at,
        DeliveryMessage.updated_at,
    )


S = Status
#: Re-exported: the back office and reporting read the status vocabulary from here.
LABELS, REASONS, TONES = wording.LABELS, wording.REASONS, wording.TONES
reason_words = wording.reason_words


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def local_time(value: datetime) -> str:
    zone = ZoneInfo(current_app.config.get("DELIVERY_TIMEZONE", "Europe/London"))
    return f"{value.astimezone(zone):%H:%M}"


def _label_and_detail(request: CaptureRequest, status: Status) -> wording.Words:
    if status in NOT_YET_VERIFIED and request.bound_at is not None:
        detail = "The customer pressed Start and is answering the identity question."
        if not request.identity_item:
            detail = "The customer pressed Start."
        if request.identity_failures:
            wrong = request.identity_failures
            detail += f" {wrong} wrong answer{'s' if wrong != 1 else ''} so far."
        return wording.Words(STARTED_LABEL, detail, "active", "started")
    return wording.status_words(request, status)


def _can_extend(request: CaptureRequest, status: Status) -> bool:
    limit = request.link_issued_at + timedelta(
        minutes=int(current_app.config["CAPTURE_MAX_EXPIRY_MINUTES"])
    )
    return status in states.EXPIRABLE and request.expires_at < limit


def data_fields(request: CaptureRequest) -> list[dict]:
    """Per field asked for: whether it arrived ("Received", "Customer declined"...), never what
    it holds (``personal_data.service.masked_summary`` decrypts nothing). Empty for payments."""
    if request.kind not in kinds.DATA_KINDS or not request.field_set:
        return []
    return [
        {"name": field.name, "label": field.label, "state": field.state, "text": field.text}
        for field in data_service.masked_summary(request)
    ]


#: Request statuses whose own words stay the headline unless money was taken (a payment that
#: succeeded just as the link was revoked must still read "Paid").
_CLOSED = frozenset({S.EXPIRED, S.REVOKED, S.LOCKED, S.DECLINED})


def _payment_headline(
    request: CaptureRequest, status: Status, standing: Standing | None
) -> tuple[str, str, str] | None:
    """(label, detail, tone) from the payment, when the payment is what the agent needs to
    hear; None to keep the request's own words."""
    if standing is None or status in NOT_YET_VERIFIED:
        return None
    if status in _CLOSED and not standing.money_taken:
        return None
    if (
        status is S.FAILED
        and not standing.money_taken
        and standing.state is not PaymentState.FAILED
    ):
        return None  # failed for another reason (reason_words says which)
    detail = standing.detail
    if standing.money_taken and status is S.IN_PROGRESS and request.kind == kinds.BOTH:
        detail += " Waiting for the customer to send the details asked for."
    return standing.label, detail, standing.tone


def payment_json(standing: Standing | None) -> dict | None:
    """The payment's part of the panel: words and amounts. Of the card, its brand and last
    four digits only (a test holds the keys: never a number, never an expiry)."""
    if standing is None:
        return None
    money = standing.amount
    return {
        "state": standing.state.value,
        "label": standing.label,
        "detail": standing.detail,
        "tone": standing.tone,
        "amount": money(standing.amount_minor),
        "paid": money(standing.paid_minor),
        "refunded": money(standing.refunded_minor),
        "refund_pending": money(standing.pending_refund_minor),
        "disputed": money(standing.disputed_minor),
        "net": money(standing.net_minor),
        "attempts_left": standing.attempts_left,
        "decline_reason": standing.decline_reason,
        "dispute": dispute_wording.status_words(standing.dispute_status)
        if standing.dispute_status
        else None,
        "card": standing.card_parts,
        "summary": payment_summary(standing),
    }


def payment_summary(standing: Standing) -> str:
    """One line of the money, for the panel: "Visa •••• 4242 · paid £12.50 · refunded £12.50
    · kept £0.00"; "" until money was taken (the label and detail say the rest)."""
    if not standing.money_taken:
        return ""
    money = standing.amount
    parts = [standing.card] if standing.card else []
    parts.append(f"paid {money(standing.paid_minor)}")
    for words, minor in (
        ("refunded", standing.refunded_minor),
        ("refund on its way", standing.pending_refund_minor),
        ("disputed", standing.disputed_minor),
    ):
        if minor:
            parts.append(f"{words} {money(minor)}")
    if standing.net_minor != standing.paid_minor:
        parts.append(f"kept {money(standing.net_minor)}")
    return " \u00b7 ".join(parts)


def panels(requests: list[CaptureRequest], now: datetime | None = None) -> list[dict]:
    """``panel_data`` for many requests, their payments read in a few queries for them all."""
    now = now or utcnow()
    standings = standings_for(requests)
    return [
        panel_data(request, now, standing=standings.get(request.id), standing_known=True)
        for request in requests
    ]


def panel_data(
    request: CaptureRequest,
    now: datetime | None = None,
    *,
    standing: Standing | None = None,
    standing_known: bool = False,
) -> dict:
    """Everything the agent's panel shows for ``request``, JSON-ready. ``standing``: its
    payment's, when the caller already has it (``panels``); read here otherwise."""
    now = now or utcnow()
    status = states.effective_status(request, now)
    if not standing_known and request.kind in kinds.PAYMENT_KINDS:
        standing = standings_for([request]).get(request.id)
    words = _label_and_detail(request, status)
    label, detail, tone = words.label, words.detail, words.tone
    headline = _payment_headline(request, status, standing)
    # What the label's colour follows: the request's status, or the payment's state once the
    # payment is the headline (so a declined card is never painted as "verified" green).
    label_status = words.status
    if headline is not None:
        label, detail, tone = headline
        label_status = f"payment_{standing.state.value}"
    amount = format_known_amount(request.amount_minor, request.currency)
    return {
        "id": request.public_id,
        "status": status.value,
        "label": label,
        "label_status": label_status,
        "detail": detail,
        "tone": tone,
        "kind": kinds.KINDS.get(request.kind, request.kind),
        "amount": amount,
        "reference": request.reference,
        "field_set": kinds.FIELD_SETS.get(request.field_set or ""),
        "readback_code": identity.display_readback(request.readback_code),
        "identity_item": identity.ITEMS.get(request.identity_item or "", "none"),
        "identity_failures": request.identity_failures,
        "created_at": _iso(request.created_at),
        "expires_at": _iso(request.expires_at),
        "expires_label": local_time(request.expires_at),
        "link_lifetime": wording.link_lifetime(request, status, local_time),
        "steps": wording.steps(request, status, local_time),
        "delivery": outbox.summarise_messages(request.delivery_messages),
        "data": data_fields(request),
        "payment": payment_json(standing),
        "actions": {
            "revoke": status in TRANSITIONS[S.REVOKED],
            "extend": _can_extend(request, status),
            "resend": status in NOT_YET_VERIFIED and request.bound_secret_hash is None,
        },
    }
