"""Receipts after a payment and notices after a refund, emailed through the outbox.

Queued in the very transaction that records the success (``portal.payments.sync`` for a
payment, ``portal.refunds.sync`` for a refund), and sent by the outbox worker like any link:
same lease, retries, SMTP gateway and development outbox page. Once only, however often the
success is learned (a webhook, the page's poll, the return from 3-D Secure, reconcile): the
message's ``notice_key`` is unique and the row is inserted with ``ON CONFLICT DO NOTHING``, so
a second or concurrent insert finds the first and adds nothing.

Only by email, and only when the customer's email address is known: the address the request's
link was last delivered to, if that newest delivery (of any channel, accepted by the provider)
was an email. A request whose link went by text message, or was copied by the agent, gets no
receipt, and neither does one whose link was emailed first and then resent another way: the
resend is usually because the first address was wrong, and a receipt names the payment, the
reference and the card. Postern never asks for an address just for that. No body is stored:
the words are rendered from the payment or refund row when sent (``portal.receipts.facts``),
and hold no link.
"""

from __future__ import annotations

import logging
from functools import cache

from flask import current_app, render_template
from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite

from portal import audit
from portal.delivery.destinations import EMAIL
from portal.delivery.gateways import DISABLED, configured_backend
from portal.delivery.outbox import queued_message_values
from portal.delivery.wording import RenderedMessage
from portal.extensions import db
from portal.i18n import gettext, in_language
from portal.models.capture import CaptureRequest
from portal.models.delivery import DeliveryMessage, MessageStatus
from portal.models.payment import Payment, PaymentStatus
from portal.models.refund import Refund, RefundStatus
from portal.receipts.facts import receipt_of, refund_notice_of

log = logging.getLogger("postern.delivery.receipts")

RECEIPT, REFUND_NOTICE = "receipt", "refund_notice"
NOTICES = (RECEIPT, REFUND_NOTICE)
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_RECEIPT_ON_ITS_WAY = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT)


def customer_email_of(capture_request_id: int) -> str | None:
    """The email address the request's link was last delivered to, or None when the newest link
    message the provider accepted went another way (a text message), the current link was not
    sent by email (copied by the agent, or a resend not yet accepted), or there is none (or
    retention has emptied it). Personal data: never log what it returns."""
    current_channel = db.session.execute(
        select(CaptureRequest.link_channel).where(CaptureRequest.id == capture_request_id)
    ).scalar_one_or_none()
    if current_channel not in (None, EMAIL):
        return None  # a copied link leaves no message behind: the request row says so
    newest = db.session.execute(
        select(DeliveryMessage.channel, DeliveryMessage.destination)
        .where(
            DeliveryMessage.capture_request_id == capture_request_id,
            DeliveryMessage.customer_notice.is_(None),
            DeliveryMessage.status == MessageStatus.SENT,
        )
        .order_by(DeliveryMessage.id.desc())
        .limit(1)
    ).first()
    if newest is None or newest.channel != EMAIL:
        return None
    return newest.destination


def receipt_emailed(payment_id: int) -> bool:
    """Whether the payment's receipt was queued for email and is not given up on (queued, being
    sent or sent). Says nothing about where to."""
    return (
        db.session.execute(
            select(DeliveryMessage.id)
            .where(
                DeliveryMessage.payment_id == payment_id,
                DeliveryMessage.customer_notice == RECEIPT,
                DeliveryMessage.status.in_(_RECEIPT_ON_ITS_WAY),
            )
            .limit(1)
        ).first()
        is not None
    )


def queue_receipt(payment: Payment, actor: audit.Actor) -> int | None:
    """Queue the receipt of ``payment`` if it has succeeded and the customer's email is known,
    audited as ``receipt.queued``. Returns the new message's id, or None (not paid, no address,
    email switched off, or queued already). Joins the current transaction; the caller commits.
    Never contacts a provider."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return None
    return _queue(
        RECEIPT,
        f"{RECEIPT}:{payment.id}",
        payment.capture_request,
        actor,
        payment_id=payment.id,
        details={"payment_intent": payment.stripe_payment_intent_id},
    )


def queue_refund_notice(refund: Refund, actor: audit.Actor) -> int | None:
    """Queue the notice of ``refund`` if it has succeeded and the customer's email is known,
    audited as ``refund_notice.queued``. Returns the new message's id, or None (as
    ``queue_receipt``). Joins the current transaction; the caller commits."""
    if refund.status != RefundStatus.SUCCEEDED:
        return None
    return _queue(
        REFUND_NOTICE,
        f"{REFUND_NOTICE}:{refund.id}",
        refund.payment.capture_request,
        actor,
        payment_id=refund.payment_id,
        refund_id=refund.id,
        details={"refund_id": refund.id, "amount_minor": refund.amount_minor},
    )


def _queue(
    notice: str,
    key: str,
    request: CaptureRequest,
    actor: audit.Actor,
    *,
    details: dict,
    **subject,
) -> int | None:
    backend = configured_backend(EMAIL, current_app.config)
    if backend == DISABLED:
        return None
    address = customer_email_of(request.id)
    if address is None:
        log.info(
            "%s not queued: no email address known", notice, extra={"request": request.public_id}
        )
        return None
    values = queued_message_values(
        EMAIL,
        backend,
        address,
        capture_request_id=request.id,
        customer_notice=notice,
        notice_key=key,
        **subject,
    )
    dialect = db.session.get_bind().dialect.name
    message_id = db.session.execute(_insert_once(dialect), values).scalar_one_or_none()
    if message_id is None:
        return None  # queued already, by an earlier (or a concurrent) learning of the success
    audit.record_for(
        request,
        f"{notice}.queued",
        actor,
        details={"message_id": message_id, "channel": EMAIL, "backend": backend, **details},
    )
    return message_id


@cache
def _insert_once(dialect: str) -> Insert:
    """``INSERT ... ON CONFLICT (notice_key) DO NOTHING RETURNING id``. On PostgreSQL a
    concurrent insert of the same key waits for the other transaction: "already there" once it
    commits, inserted here if it rolls back."""
    table = DeliveryMessage.__table__
    return (
        _INSERT[dialect](table)
        .on_conflict_do_nothing(index_elements=[table.c.notice_key])
        .returning(table.c.id)
    )


def render_notice(message: DeliveryMessage) -> RenderedMessage:
    """The email of a receipt or refund notice message, rendered now from its payment or refund
    row, in the request's language. Needs an application context (configuration, templates)."""
    if message.customer_notice == REFUND_NOTICE:
        refund = db.session.get(Refund, message.refund_id)
        language = refund.payment.capture_request.language
    else:
        payment = db.session.get(Payment, message.payment_id)
        language = payment.capture_request.language
    with in_language(language):
        if message.customer_notice == REFUND_NOTICE:
            notice = refund_notice_of(refund)
            subject = gettext(
                "%(org)s: your refund of %(amount)s", org=notice.org_name, amount=notice.amount
            )
            template, context = "refund_notice", {"notice": notice}
        else:
            receipt = receipt_of(payment)
            subject = gettext(
                "%(org)s: your receipt for %(amount)s", org=receipt.org_name, amount=receipt.amount
            )
            template, context = "receipt", {"receipt": receipt}
        return RenderedMessage(
            subject=subject,
            text_body=_tidy(render_template(f"messages/{template}_email.txt", **context)),
            html_body=render_template(f"messages/{template}_email.html", **context),
            link_url="",
        )


def _tidy(text: str) -> str:
    """Strip trailing spaces and the blank lines template tags leave at the ends."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
