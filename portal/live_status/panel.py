"""What the agent's live status panel shows about a request, in plain words.

One function, ``panel_data``, feeds both the server-rendered console and the JSON the console
polls, so the two can never disagree. It holds nothing captured from the customer: no card
details, no personal data, not even the identity answer's hash; only progress and outcomes.
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
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage
from portal.models.types import utcnow
from portal.money import format_known_amount
from portal.personal_data import service as data_service


@cache  # options are immutable; building one costs more than the rest of a poll's query
def with_deliveries(strategy=selectinload):
    """Loader option for queries whose requests become panels: their messages come with them
    instead of one query per panel (``joinedload`` for one request: the same round trip;
    ``selectinload`` for a list: one more), without the bodies, which carry the link and
    which a panel never shows."""
    return strategy(CaptureRequest.delivery_messages).load_only(
        DeliveryMessage.channel,
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
LABELS = {
    S.CREATED: "Created",
    S.SENT: "Link sent",
    S.OPENED: "Link opened",
    S.VERIFIED: "Identity confirmed",
    S.IN_PROGRESS: "In progress",
    S.SUCCEEDED: "Completed",
    S.FAILED: "Failed",
    S.EXPIRED: "Expired",
    S.REVOKED: "Revoked",
    S.LOCKED: "Locked",
    S.DECLINED: "Declined",
}
STARTED_LABEL = "Started on the customer's device"
DETAILS = {
    S.CREATED: "The link has not been sent yet.",
    S.SENT: "Waiting for the customer to open the link.",
    S.OPENED: (
        "The link has been opened (a messaging app may also preview it). "
        "Waiting for the customer to press Start."
    ),
    S.VERIFIED: (
        "The customer confirmed who they are and can see the summary of the request. "
        "Ask them to read you the code on their screen."
    ),
    S.IN_PROGRESS: "The customer is entering their details.",
    S.SUCCEEDED: "Finished successfully.",
    S.FAILED: "This did not complete.",
    S.EXPIRED: "The link's time ran out before the customer finished. Create a new request.",
    S.REVOKED: "This request was revoked; its link no longer works.",
    S.LOCKED: (
        "Locked after too many wrong answers to the identity question. Check the customer's "
        "record; if you are sure it is them, create a new request."
    ),
    S.DECLINED: "The customer chose not to give these details.",
}
#: status_reason codes -> plain words (for failed, revoked, locked, expired).
REASONS = {
    "identity_failed": "Too many wrong answers to the identity question.",
    "revoked_by_agent": "Revoked from the agent console.",
    "time_limit": "The time limit passed.",
    "payment_canceled": "The payment was cancelled.",
    "abandoned": "The customer left the payment unfinished.",
    "requested_by_customer": "The customer cancelled the payment.",
    "fraudulent": "The payment provider stopped the payment as likely fraud.",
    "duplicate": "The payment was cancelled as a duplicate.",
    "automatic": "The payment provider cancelled the payment.",
}


def reason_words(code: str | None) -> str | None:
    """Plain words for a status_reason code; an unknown code is still shown, in words."""
    if not code:
        return None
    return REASONS.get(code) or f"Reason: {code.replace('_', ' ')}."


TONES = {
    S.VERIFIED: "good",
    S.SUCCEEDED: "good",
    S.FAILED: "bad",
    S.LOCKED: "bad",
    S.EXPIRED: "muted",
    S.REVOKED: "muted",
    S.DECLINED: "muted",
}
_STEPS = (
    ("sent", "Link sent", "sent_at"),
    ("opened", "Opened", "opened_at"),
    ("started", "Started", "bound_at"),
    ("verified", "Identity confirmed", "verified_at"),
    ("in_progress", "In progress", "started_at"),
    ("finished", "Finished", "finished_at"),
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def local_time(value: datetime) -> str:
    zone = ZoneInfo(current_app.config.get("DELIVERY_TIMEZONE", "Europe/London"))
    return f"{value.astimezone(zone):%H:%M}"


def _label_and_detail(request: CaptureRequest, status: Status) -> tuple[str, str]:
    if status in NOT_YET_VERIFIED and request.bound_at is not None:
        detail = "The customer pressed Start and is answering the identity question."
        if request.identity_failures:
            wrong = request.identity_failures
            detail += f" {wrong} wrong answer{'s' if wrong != 1 else ''} so far."
        return STARTED_LABEL, detail
    detail = DETAILS[status]
    reason = reason_words(request.status_reason)
    if status in (S.FAILED, S.REVOKED, S.LOCKED) and reason:
        detail = f"{reason} {detail}"
    return LABELS[status], detail


def _can_extend(request: CaptureRequest, status: Status) -> bool:
    limit = request.link_issued_at + timedelta(
        minutes=int(current_app.config["CAPTURE_MAX_EXPIRY_MINUTES"])
    )
    return status in states.EXPIRABLE and request.expires_at < limit


def _step(request: CaptureRequest, key: str, words: str, column: str) -> dict:
    at = getattr(request, column)
    return {"key": key, "label": words, "done": at is not None, "at": at and local_time(at)}


def data_fields(request: CaptureRequest) -> list[dict]:
    """Per field asked for: whether it arrived ("Received", "Customer declined"...), never what
    it holds (``personal_data.service.masked_summary`` decrypts nothing). Empty for payments."""
    if request.kind not in kinds.DATA_KINDS or not request.field_set:
        return []
    return [
        {"name": field.name, "label": field.label, "state": field.state, "text": field.text}
        for field in data_service.masked_summary(request)
    ]


def panel_data(request: CaptureRequest, now: datetime | None = None) -> dict:
    """Everything the agent's panel shows for ``request``, JSON-ready."""
    now = now or utcnow()
    status = states.effective_status(request, now)
    label, detail = _label_and_detail(request, status)
    amount = format_known_amount(request.amount_minor, request.currency)
    return {
        "id": request.public_id,
        "status": status.value,
        "label": label,
        "detail": detail,
        "tone": TONES.get(status, "active"),
        "kind": kinds.KINDS.get(request.kind, request.kind),
        "amount": amount,
        "reference": request.reference,
        "field_set": kinds.FIELD_SETS.get(request.field_set or ""),
        "readback_code": identity.display_readback(request.readback_code),
        "identity_item": identity.ITEMS.get(request.identity_item or "", "None"),
        "identity_failures": request.identity_failures,
        "created_at": _iso(request.created_at),
        "expires_at": _iso(request.expires_at),
        "expires_label": local_time(request.expires_at),
        "steps": [_step(request, key, words, column) for key, words, column in _STEPS],
        "delivery": outbox.summarise_messages(request.delivery_messages),
        "data": data_fields(request),
        "actions": {
            "revoke": status in TRANSITIONS[S.REVOKED],
            "extend": _can_extend(request, status),
            "resend": status in NOT_YET_VERIFIED and request.bound_secret_hash is None,
        },
    }
