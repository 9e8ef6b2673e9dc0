"""The words of the agent's panel for a request's own progress, in every state.

An agent on a live call reads these aloud, so each must be true at the moment it shows:

- "Link sent" only once a text message or email has actually gone; a copy-link request reads
  "Link ready to give", and a message still waiting, undelivered or stopped says so;
- "Link works until 13:36" only while the link can still be used;
- a green "Finished" only for a request that finished successfully (a locked, expired,
  revoked, failed or declined request names its outcome instead, never in green);
- "Identity confirmed" only when an identity check was set and answered.

``portal.live_status.panel`` puts these beside the payment's words (``portal.payments.standing``)
and a test enumerates every status and variant against these rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from portal.capture import kinds
from portal.capture.states import EXPIRABLE, TERMINAL, Status
from portal.i18n import N_
from portal.models.delivery import MessageStatus

S = Status
#: The request's status in words: also the back office's vocabulary for statuses.
LABELS = {
    S.CREATED: N_("Created"),
    S.SENT: N_("Link sent"),
    S.OPENED: N_("Link opened"),
    S.VERIFIED: N_("Identity confirmed"),
    S.IN_PROGRESS: N_("In progress"),
    S.SUCCEEDED: N_("Completed"),
    S.FAILED: N_("Failed"),
    S.EXPIRED: N_("Expired"),
    S.REVOKED: N_("Revoked"),
    S.LOCKED: N_("Locked"),
    S.DECLINED: N_("Declined"),
}
STARTED_LABEL = N_("Started on the customer's device")
DETAILS = {
    S.CREATED: N_("The link has not been sent yet."),
    S.SENT: N_("Waiting for the customer to open the link."),
    S.OPENED: N_(
        "The link has been opened (a messaging app may also preview it). "
        "Waiting for the customer to press Start."
    ),
    S.VERIFIED: N_(
        "The customer confirmed who they are and can see the summary of the request. "
        "Ask them to read you the code on their screen."
    ),
    S.IN_PROGRESS: N_("The customer is entering their details."),
    S.SUCCEEDED: N_("Finished successfully."),
    S.FAILED: N_("This did not complete."),
    S.EXPIRED: N_("The link's time ran out before the customer finished. Create a new request."),
    S.REVOKED: N_("This request was revoked; its link no longer works."),
    S.LOCKED: N_(
        "Locked after too many wrong answers to the identity question. Check the customer's "
        "record; if you are sure it is them, create a new request."
    ),
    S.DECLINED: N_("The customer chose not to give these details."),
}
#: status_reason codes -> plain words (for failed, revoked, locked, expired).
REASONS = {
    "identity_failed": N_("Too many wrong answers to the identity question."),
    "revoked_by_agent": N_("Revoked from the agent console."),
    "time_limit": N_("The time limit passed."),
    "payment_canceled": N_("The payment was cancelled."),
    "abandoned": N_("The customer left the payment unfinished."),
    "requested_by_customer": N_("The customer cancelled the payment."),
    "fraudulent": N_("The payment provider stopped the payment as likely fraud."),
    "duplicate": N_("The payment was cancelled as a duplicate."),
    "automatic": N_("The payment provider cancelled the payment."),
}
TONES = {
    S.VERIFIED: "good",
    S.SUCCEEDED: "good",
    S.FAILED: "bad",
    S.LOCKED: "bad",
    S.EXPIRED: "muted",
    S.REVOKED: "muted",
    S.DECLINED: "muted",
}

#: Verified without an identity check: the customer pressed Start, nobody confirmed anything.
UNCHECKED_LABEL = N_("Started, no identity check")
UNCHECKED_DETAIL = N_(
    "The customer pressed Start (no identity check was set) and can see the summary of the "
    "request. Ask them to read you the code on their screen."
)


def reason_words(code: str | None) -> str | None:
    """Plain words for a status_reason code; an unknown code is still shown, in words."""
    if not code:
        return None
    return REASONS.get(code) or f"Reason: {code.replace('_', ' ')}."


@dataclass(frozen=True)
class Words:
    """A headline: ``status`` is what its colour follows (``data-status`` in the page)."""

    label: str
    detail: str
    tone: str
    status: str


def latest_link_message(request):
    """The newest message that carried this request's link (not a receipt), or None."""
    carried = [m for m in request.delivery_messages if m.customer_notice is None]
    return carried[-1] if carried else None


def _channel_words(channel: str) -> str:
    return "text message" if channel == kinds.SMS else "email"


def link_words(request) -> Words:
    """Before the customer opens the link: has it reached them, or can it be given yet?"""
    if request.link_channel == kinds.COPY_LINK:
        detail = "Give the customer the link or the QR code, then wait for them to open it."
        return Words("Link ready to give", detail, "active", "link_ready")
    message = latest_link_message(request)
    words = _channel_words(message.channel if message else request.link_channel)
    if message is not None and message.status == MessageStatus.SENT:
        return Words("Link sent", DETAILS[S.SENT], "active", S.SENT.value)
    if message is None:
        detail = f"No {words} was recorded for this link. Send a new link."
        return Words("Link not sent", detail, "bad", "link_not_sent")
    if message.status == MessageStatus.CANCELLED:
        detail = f"The {words} was stopped before it went. Send a new link."
        return Words("Link not sent", detail, "bad", "link_not_sent")
    if message.status == MessageStatus.FAILED:
        detail = (
            f"The {words} could not be delivered. Check the customer's details and send a new "
            "link, or choose Copy link / QR code."
        )
        return Words("Link not delivered", detail, "bad", "link_not_sent")
    retrying = " (trying again)" if message.attempts else ""
    detail = f"The {words} has not gone yet{retrying}. This changes to Link sent once it has."
    return Words("Sending the link", detail, "active", "link_sending")


def status_words(request, status: Status) -> Words:
    """The request's own headline (before any payment takes over)."""
    if status in (S.CREATED, S.SENT):
        return link_words(request)
    if status is S.VERIFIED and request.identity_item is None:
        return Words(UNCHECKED_LABEL, UNCHECKED_DETAIL, "active", "verified_unchecked")
    detail = DETAILS[status]
    reason = reason_words(request.status_reason)
    # The reason goes first, unless the status's own words already give it.
    said = status is S.LOCKED and request.status_reason == "identity_failed"
    if status in (S.FAILED, S.REVOKED, S.LOCKED) and reason and not said:
        detail = f"{reason} {detail}"
    return Words(LABELS[status], detail, TONES.get(status, "active"), status.value)


def link_lifetime(request, status: Status, time_of: Callable[[datetime], str]) -> str:
    """ "Link works until 13:36." only while the link can still be used; once it lapsed, when
    it stopped; nothing for a request that is finished, revoked, locked or being paid."""
    if status in EXPIRABLE:
        return f"Link works until {time_of(request.expires_at)}."
    if status is S.EXPIRED:
        return f"Link stopped working at {time_of(request.expires_at)}."
    return ""


#: A step's state: done (green), stopped (the request ended there), skipped, or not yet.
DONE, STOPPED, SKIPPED, TODO = "done", "stopped", "skipped", "todo"
STEP_STATE_WORDS = {
    DONE: N_("done"),
    STOPPED: N_("stopped"),
    SKIPPED: N_("skipped"),
    TODO: N_("not yet"),
}


def steps(request, status: Status, time_of: Callable[[datetime], str]) -> list[dict]:
    """The progress line: key, label, state, done (True only for a green step), at."""

    def step(key: str, label: str, at: datetime | None, state: str | None = None) -> dict:
        state = state or (DONE if at is not None else TODO)
        return {
            "key": key,
            "label": label,
            "state": state,
            "state_words": STEP_STATE_WORDS[state],
            "done": state == DONE,
            "at": time_of(at) if at is not None else None,
        }

    if request.link_channel == kinds.COPY_LINK:
        sent = step("sent", "Link ready", request.sent_at)
    else:
        message = latest_link_message(request)
        went = message is not None and message.status == MessageStatus.SENT
        sent = step("sent", "Link sent", message.sent_at if went else None)
    checked = request.identity_item is not None
    verified = (
        step("verified", "Identity confirmed", request.verified_at)
        if checked
        else step(
            "verified",
            "No identity check",
            request.verified_at,
            SKIPPED if request.verified_at else TODO,
        )
    )
    return [
        sent,
        step("opened", "Opened", request.opened_at),
        step("started", "Started", request.bound_at),
        verified,
        step("in_progress", "In progress", request.started_at),
        _finished_step(request, status, step),
    ]


def _finished_step(request, status: Status, step) -> dict:
    if status is S.SUCCEEDED:
        return step("finished", "Finished", request.finished_at or request.updated_at)
    if status in TERMINAL:
        at = request.finished_at or (request.expires_at if status is S.EXPIRED else None)
        return step("finished", LABELS[status], at, STOPPED)
    return step("finished", "Finished", None)
