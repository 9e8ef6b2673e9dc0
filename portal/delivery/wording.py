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

from babel.dates import format_date
from flask import current_app, render_template

from portal.i18n import current_language, gettext, in_language, lazy_gettext
from portal.models.types import utcnow
from portal.money import format_known_amount

#: Lazy: each is translated when a message is rendered, in the request's language.
PURPOSES = {
    "payment": lazy_gettext("make your payment"),
    "data": lazy_gettext("give us the details we asked for"),
    "both": lazy_gettext("pay and give us the details we asked for"),
}
#: The same, naming the amount (emails only: texts stay short).
PURPOSES_WITH_AMOUNT = {
    "payment": lazy_gettext("make your payment of %(amount)s"),
    "both": lazy_gettext("pay %(amount)s and give us the details we asked for"),
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
    label = gettext(current_app.config.get("DELIVERY_TIMEZONE_LABEL", "UK time"))
    if local.date() == today:
        return gettext("%(time)s %(zone)s", time=f"{local:%H:%M}", zone=label)
    return gettext(
        "%(time)s %(zone)s on %(date)s",
        time=f"{local:%H:%M}",
        zone=label,
        date=format_date(local, "d MMMM", locale=current_language()),
    )


def render_link_message(capture_request, link_url: str, channel: str) -> RenderedMessage:
    """Render the SMS or email (subject, text, HTML) that carries ``link_url``, in the
    request's language (``CaptureRequest.language``), whatever the page asking speaks.

    Needs an application context (configuration, templates).
    """
    with in_language(capture_request.language):
        return _render_link_message(capture_request, link_url, channel)


def _render_link_message(capture_request, link_url: str, channel: str) -> RenderedMessage:
    config = current_app.config
    context = {
        "org_name": config["ORG_NAME"],
        "link_url": link_url,
        "link_host": urlsplit(link_url).hostname or "",
        "purpose": str(PURPOSES.get(capture_request.kind, PURPOSES["data"])),
        "is_payment": capture_request.kind in ("payment", "both"),
        "expires": describe_expiry(capture_request.expires_at),
    }
    amount = format_known_amount(capture_request.amount_minor, capture_request.currency)
    if amount and capture_request.kind in PURPOSES_WITH_AMOUNT:
        context["purpose_with_amount"] = str(PURPOSES_WITH_AMOUNT[capture_request.kind]) % {
            "amount": amount
        }
    else:
        context["purpose_with_amount"] = context["purpose"]
    if channel == "sms":
        return RenderedMessage(
            subject=None, text_body=_link_sms(context), html_body=None, link_url=link_url
        )
    return RenderedMessage(
        subject=gettext("%(org)s: your secure link from our call", org=config["ORG_NAME"]),
        text_body=_tidy(render_template("messages/link_email.txt", **context)),
        html_body=render_template("messages/link_email.html", **context),
        link_url=link_url,
    )


def _link_sms(context: dict) -> str:
    """The text message: one segment (160 GSM-7 characters) when the short wording and the full
    link fit, which they do while ORG_NAME (as cut by ``sms_org_name``) and PUBLIC_BASE_URL
    together hold at most 57 characters (the link is PUBLIC_BASE_URL + 70, ``portal.capture
    .links``). Otherwise the message takes two segments, so it carries the full wording: when
    the link expires, and that we never ask for card details by text. The landing page says
    both in any case."""
    sms_context = {**context, "org_name": sms_org_name(current_app.config["ORG_NAME"])}
    short = _tidy(render_template("messages/link_sms.txt", variant="short", **sms_context))
    if sms_length(short).segments == 1:
        return short
    return _tidy(render_template("messages/link_sms.txt", variant="full", **sms_context))


#: The organisation's name in a text message is cut to this many characters: with the full link
#: (``portal.capture.links``: 110 characters on a 40-character PUBLIC_BASE_URL) the message
#: then stays within two GSM-7 segments whatever ORG_NAME says, and within one on a short
#: address (``_link_sms``).
SMS_ORG_NAME_MAX = 24
#: Look-alikes outside GSM-7 that would turn the whole message into UCS-2 (70 characters a
#: segment instead of 160), replaced by their plain forms.
_GSM_LOOK_ALIKES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        "\u2026": "...",
    }
)


def gsm_safe(text: str) -> str:
    """``text`` in GSM-7 only: look-alikes made plain, anything else outside it left out."""
    plain = text.translate(_GSM_LOOK_ALIKES)
    return "".join(char for char in plain if char in _GSM_BASIC or char in _GSM_EXTENDED)


def sms_org_name(name: str) -> str:
    """The organisation's name as a text message gives it: GSM-7, at most
    ``SMS_ORG_NAME_MAX`` characters (cut deliberately rather than let the message grow)."""
    name = " ".join(gsm_safe(name).split())
    if len(name) > SMS_ORG_NAME_MAX:  # at a word's end where there is one
        cut = name[: SMS_ORG_NAME_MAX + 1]
        name = cut.rsplit(" ", 1)[0] if " " in cut else cut[:SMS_ORG_NAME_MAX]
    return name.rstrip(" ,.-&")


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
