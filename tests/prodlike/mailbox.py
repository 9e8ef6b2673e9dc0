"""The production-like stack's mail relay: a real SMTP server (aiosmtpd) keeping what it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage


class Mailbox:
    """What the SMTP server accepted, as parsed messages, oldest first.

    ``before_reply``, if set, is called with each message once it is kept and before the server
    answers (in a thread of its own, so it may block): the moment a fault test acts on, when the
    provider has the message and the sender does not know it yet. If it returns a reply such as
    ``"451 4.3.0 Try again later"``, the message is refused with it and not kept."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.before_reply: Callable[[EmailMessage], str | None] | None = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(message)
        if self.before_reply is not None:
            refusal = await asyncio.to_thread(self.before_reply, message)
            if refusal:
                self.messages.remove(message)
                return refusal
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if address in str(message["To"])]
