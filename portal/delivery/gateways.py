"""Gateways: the small classes that hand one message to one provider.

Each gateway has one method, ``send(OutgoingMessage) -> SendResult``, and raises
``DeliveryError`` for every failure, already translated into plain words for the agent and
classed as transient (try again later) or permanent (trying again cannot help). A provider's
raw response never leaves the gateway: it may quote the customer's number or address.

``gateway_for`` picks the gateway for a channel from configuration:
SMS ``twilio`` (portal.delivery.twilio_sms), email ``smtp`` (portal.delivery.smtp_email),
either ``dev`` (the development outbox page, the embedded default) or ``disabled``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from portal.delivery.destinations import EMAIL, SMS

DEV, TWILIO, SMTP, DISABLED = "dev", "twilio", "smtp", "disabled"
BACKENDS = {SMS: (DEV, TWILIO, DISABLED), EMAIL: (DEV, SMTP, DISABLED)}


@dataclass(frozen=True)
class OutgoingMessage:
    """What a gateway needs to send one message, detached from the database."""

    message_id: int
    attempt_number: int
    channel: str
    destination: str
    subject: str | None
    text_body: str
    html_body: str | None

    def __repr__(self) -> str:  # never the destination or the bodies (they hold the link)
        return f"<OutgoingMessage {self.message_id}#{self.attempt_number} {self.channel}>"


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message; its id for the message is kept for support."""

    provider_message_id: str


class DeliveryError(Exception):
    """Sending failed. ``code`` is short and stable (for counting), ``message`` plain words.

    ``permanent`` means another attempt cannot succeed (an invalid number, an opted-out
    customer); otherwise the worker retries with backoff.
    """

    def __init__(self, code: str, message: str, *, permanent: bool):
        super().__init__(message)
        self.code, self.message, self.permanent = code, message, permanent


class Gateway(Protocol):
    backend: str

    def send(self, message: OutgoingMessage) -> SendResult: ...


class DevOutboxGateway:
    """The embedded default: nothing leaves the machine.

    The message row itself is what "was sent": the development outbox page (/dev/outbox)
    lists it and renders it again, with its link, so a demo can be run end to end without a
    provider.
    """

    backend = DEV

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(provider_message_id=f"dev-{message.message_id}")


class DisabledGateway:
    """A channel switched off by configuration: every message fails at once, plainly."""

    backend = DISABLED

    def __init__(self, channel: str):
        self.channel = channel

    def send(self, message: OutgoingMessage) -> SendResult:
        words = "by text message" if self.channel == SMS else "by email"
        raise DeliveryError(
            "channel_disabled", f"Sending links {words} is switched off.", permanent=True
        )


def configured_backend(channel: str, config) -> str:
    """The backend name configured for ``channel``. Raises ValueError for an unknown one."""
    key = "DELIVERY_SMS_BACKEND" if channel == SMS else "DELIVERY_EMAIL_BACKEND"
    if channel not in BACKENDS:
        raise ValueError(f"unknown delivery channel {channel!r}")
    backend = config.get(key, DEV)
    if backend not in BACKENDS[channel]:
        raise ValueError(f"{key}={backend!r} is not one of {BACKENDS[channel]}")
    return backend


def gateway_for(channel: str, config) -> Gateway:
    """Build the gateway configured for ``channel``. Raises ValueError if misconfigured."""
    backend = configured_backend(channel, config)
    if backend == DEV:
        return DevOutboxGateway()
    if backend == DISABLED:
        return DisabledGateway(channel)
    if backend == TWILIO:
        from portal.delivery.twilio_sms import TwilioSmsGateway

        return TwilioSmsGateway.from_config(config)
    from portal.delivery.smtp_email import SmtpEmailGateway

    return SmtpEmailGateway.from_config(config)
