"""The outbox: queue a link message, report on it, cancel it, and later forget its contents.

Queuing only writes rows in the caller's transaction; the worker (``portal.delivery.worker``)
does the sending. So creating a request never waits on a provider and never fails because
one is down, and a rolled-back request never sends a link.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from portal import audit
from portal.capture import links
from portal.delivery import sealed_link
from portal.delivery.destinations import EMAIL, SMS, mask_destination, normalise_destination
from portal.delivery.gateways import DEV, DISABLED, configured_backend
from portal.delivery.wording import RenderedMessage, render_link_message
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.delivery import FINAL_STATUSES, DeliveryMessage, MessageStatus
from portal.models.types import utcnow

CHANNEL_WORDS = {SMS: "text message", EMAIL: "email"}
#: Why a queued receipt or refund notice may be stopped (``cancel_pending``).
NOTICE_STOPPING_REASONS = frozenset({"erasure"})
STATUS_WORDS = {
    MessageStatus.QUEUED: "Waiting to send",
    MessageStatus.SENDING: "Sending",
    MessageStatus.SENT: "Sent",
    MessageStatus.FAILED: "Not delivered",
    MessageStatus.CANCELLED: "Cancelled, not sent",
}


def queued_message_values(channel: str, backend: str, destination: str, **owner) -> dict:
    """The columns of a new message, queued to send now: the one shape every message starts
    in. ``destination`` is already normalised; ``owner`` is ``capture_request_id`` (a
    customer's link, or with ``customer_notice`` and its keys a receipt or refund notice,
    ``portal.delivery.receipts``) or ``security_notification_id`` (an admin's notice)."""
    now = utcnow()
    return {
        **owner,
        "channel": channel,
        "backend": backend,
        "destination": str(destination),  # a plain string, not a Normalised one
        "destination_masked": mask_destination(channel, destination),
        "status": MessageStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def add_queued_message(channel: str, backend: str, destination: str, **owner) -> DeliveryMessage:
    """A new message (``queued_message_values``), added to the session."""
    message = DeliveryMessage(**queued_message_values(channel, backend, destination, **owner))
    db.session.add(message)
    return message


def _token_of(link_url: str) -> str:
    """The token of ``link_url``, which must be a full customer link on our own public site
    (no shorteners, no look-alikes). Raises ValueError (a programming error)."""
    prefix = links.link_url("")
    token = link_url.removeprefix(prefix)
    if (
        not link_url.startswith(prefix)
        or not token
        or len(token) > links.MAX_TOKEN_LENGTH
        or any(char.isspace() or char in "/?#" for char in token)
    ):
        raise ValueError("the link must be a customer link under PUBLIC_BASE_URL")
    return token


def queue_link_message(
    capture_request: CaptureRequest,
    link_url: str,
    channel: str,
    destination: str,
    actor: audit.Actor,
) -> DeliveryMessage:
    """Add a message carrying ``link_url`` for ``capture_request`` to the current transaction,
    audited as ``actor`` (who asked for the link to be sent).

    ``destination`` is normalised here unless it already is: the ``Normalised`` value the
    form's or the API's check returned passes through unparsed (a phone number is parsed once).
    The message keeps the link's token sealed (``portal.delivery.sealed_link``), never the
    link or a body carrying it: the worker renders the message only to send it.
    Returns the new, flushed message; the caller commits. Never contacts a provider.
    Raises ValueError with a message fit for the agent when the destination is not valid or
    the channel is switched off, and for a link outside PUBLIC_BASE_URL (a programming error);
    KeyringError when no data key is configured.
    """
    if channel not in CHANNEL_WORDS:
        raise ValueError(f"Unknown delivery channel {channel!r}")
    backend = configured_backend(channel, current_app.config)
    if backend == DISABLED:
        raise ValueError(f"Sending links by {CHANNEL_WORDS[channel]} is switched off here.")
    normalised = normalise_destination(channel, destination)
    token = _token_of(link_url)
    message = add_queued_message(
        channel, backend, normalised, capture_request_id=capture_request.id
    )
    db.session.flush()  # the sealed link is bound to the message's id
    message.sealed_link = sealed_link.seal_token(capture_request.id, message.id, token)
    audit.record_for(
        capture_request,
        "delivery.queued",
        actor,
        details={"message_id": message.id, "channel": channel, "backend": backend},
    )
    return message


def render(message: DeliveryMessage, capture_request: CaptureRequest) -> RenderedMessage:
    """The message as the customer receives it, link included, rendered now from the request
    and the sealed link. Only for handing to a provider or showing in the development outbox:
    never store or log what it returns. Raises LinkUnavailable once the link is forgotten."""
    link = sealed_link.open_link(capture_request.id, message.id, message.sealed_link)
    return render_link_message(capture_request, link, message.channel)


def _status_words(message: DeliveryMessage) -> str:
    if message.status == MessageStatus.QUEUED and message.attempts:
        return "Not delivered yet, trying again"
    if message.status == MessageStatus.SENT and message.backend == DEV:
        return "Sent to the development outbox"
    return STATUS_WORDS.get(message.status, message.status)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def delivery_summary(capture_request_id: int) -> list[dict]:
    """What the agent may see about each link message of a request, oldest first (see
    ``summarise_messages``). Receipts and refund notices are not links and are left out."""
    messages = db.session.execute(
        select(DeliveryMessage)
        .where(
            DeliveryMessage.capture_request_id == capture_request_id,
            DeliveryMessage.customer_notice.is_(None),  # links only: not receipts
        )
        .order_by(DeliveryMessage.id)
    ).scalars()
    return summarise_messages(messages)


def summarise_messages(messages) -> list[dict]:
    """What the agent may see about each of ``messages`` (one request's, oldest first).

    Never the destination in full, never the message (it carries the link). Each item holds:
    id, channel, channel_words, destination (masked), status, status_words, attempts,
    last_error (plain words or None), next_attempt_at, sent_at, updated_at (ISO 8601 UTC).
    """
    return [
        {
            "id": message.id,
            "channel": message.channel,
            "channel_words": CHANNEL_WORDS.get(message.channel, message.channel),
            "destination": message.destination_masked,
            "status": message.status,
            "status_words": _status_words(message),
            "attempts": message.attempts,
            "last_error": message.last_error,
            "next_attempt_at": (
                _iso(message.next_attempt_at) if message.status == MessageStatus.QUEUED else None
            ),
            "sent_at": _iso(message.sent_at),
            "updated_at": _iso(message.updated_at),
        }
        for message in messages
    ]


def cancel_pending(capture_request: CaptureRequest, reason: str, actor: audit.Actor) -> int:
    """Stop every not-yet-sent message of a request (revoked, expired, link replaced, erased),
    audited as ``actor`` when there were any.

    A message already handed to a worker finishes its current attempt; queued ones, including
    those waiting to retry, are never sent. A receipt or refund notice is about money already
    taken or returned, so only an erasure stops it; closing the request or replacing its link
    does not. Returns how many were cancelled; the caller commits.
    """
    now = utcnow()
    which = [
        DeliveryMessage.capture_request_id == capture_request.id,
        DeliveryMessage.status == MessageStatus.QUEUED,
    ]
    if reason not in NOTICE_STOPPING_REASONS:
        which.append(DeliveryMessage.customer_notice.is_(None))
    result = db.session.execute(
        update(DeliveryMessage)
        .where(*which)
        .values(
            status=MessageStatus.CANCELLED,
            next_attempt_at=None,
            last_error="Not sent: the request was closed or its link replaced.",
            last_error_code=reason[:40],
            updated_at=now,
            **sealed_link.FORGET,
        )
        .execution_options(synchronize_session=False)
    )
    cancelled = result.rowcount or 0
    if cancelled:
        audit.record_for(
            capture_request,
            "delivery.cancelled",
            actor,
            details={"messages": cancelled, "reason": reason[:40]},
        )
    return cancelled


def purge_contents(older_than: datetime) -> int:
    """Empty the destination (and any link still sealed) of final messages last changed before
    ``older_than``.

    Keeps the masked destination, status and attempts so the history stays readable.
    Returns how many messages were purged; the caller commits (and audits the retention run).
    """
    result = db.session.execute(
        update(DeliveryMessage)
        .where(
            DeliveryMessage.status.in_(FINAL_STATUSES),
            DeliveryMessage.updated_at < older_than,
            DeliveryMessage.purged_at.is_(None),
        )
        .values(destination=None, purged_at=utcnow(), **sealed_link.FORGET)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
