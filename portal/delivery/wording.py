"""The words of a link message, and how long an SMS is.

Wording follows UK anti-scam guidance (NCSC "phishing: spot and report", UK Finance's
Take Five): say who we are, show the full address on our own domain (no link shorteners,
no "click here"), never ask for card details in the message itself, say what will happen
next, say when the link stops working, and tell people who are not on a call with us to
ignore it. The words themselves live in templates/messages/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, render_template

from portal.models.types import utcnow
from portal.money import format_known_amount

PURPOSES = {
    "payment": "make your payment",
    "data": "give us the details we asked for",
    "both": "pay and give us the details we asked for",
}
#: The same, naming the amount (emails only: texts stay short).
PURPOSES_WITH_AMOUNT = {
    "payment": "make your payment of {amount}",
    "both": "pay {amount} and give us the details we asked for",
}


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to send. It carries the customer link: never store or log it."""

    subject: str | None
    text_body: str
    html_body: str | None
    link_url: str

    def __repr__(self) -> str:  # never the bodies or the link
        return f"<RenderedMessage {len(self.text_body)} characters>"


def describe_expiry(expires_at: datetime, now: datetime | None = None) -> str:
    """``"14:35 UK time"``, or ``"14:35 UK time on 3 December"`` when not today."""
    zone = ZoneInfo(current_app.config.get("DELIVERY_TIMEZONE", "Europe/London"))
    local = expires_at.astimezone(zone)
    today = (now or utcnow()).astimezone(zone).date()
    label = current_app.config.get("DELIVERY_TIMEZONE_LABEL", "UK time")
    words = f"{local:%H:%M} {label}"
    if local.date() != today:
        words += f" on {local.day} {local:%B}"
    return words


def render_link_message(capture_request, link_url: str, channel: str) -> RenderedMessage:
    """Render the SMS or email (subject, text, HTML) that carries ``link_url``.

    Needs an application context (configuration, templates).
    """
    config = current_app.config
    context = {
        "org_name": config["ORG_NAME"],
        "link_url": link_url,
        "link_host": urlsplit(link_url).hostname or "",
        "purpose": PURPOSES.get(capture_request.kind, PURPOSES["data"]),
        "is_payment": capture_request.kind in ("payment", "both"),
        "expires": describe_expiry(capture_request.expires_at),
    }
    amount = format_known_amount(capture_request.amount_minor, capture_request.currency)
    if amount and capture_request.kind in PURPOSES_WITH_AMOUNT:
        context["purpose_with_amount"] = PURPOSES_WITH_AMOUNT[capture_request.kind].format(
            amount=amount
        )
    else:
        context["purpose_with_amount"] = context["purpose"]
    if channel == "sms":
        text = render_template("messages/link_sms.txt", **context)
        return RenderedMessage(
            subject=None, text_body=_tidy(text), html_body=None, link_url=link_url
        )
    return RenderedMessage(
        subject=f"{config['ORG_NAME']}: your secure link from our call",
        text_body=_tidy(render_template("messages/link_email.txt", **context)),
        html_body=render_template("messages/link_email.html", **context),
        link_url=link_url,
    )


def _tidy(text: str) -> str:
    """Strip trailing spaces and the blank lines template tags leave behind at the ends."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines)


# GSM 03.38: the basic set costs one septet, the extension set two (escape + char).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def sms_length(text: str) -> SmsLength:
    """How many characters and segments ``text`` takes as an SMS.

    One segment holds 160 GSM-7 septets (153 each when split) or 70 UCS-2 units (67 each).
    """
    if all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in text):
        units = sum(2 if char in _GSM_EXTENDED else 1 for char in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return SmsLength(encoding, len(text), units, segments)
