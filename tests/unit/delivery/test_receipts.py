"""Queuing receipts and refund notices, and the facts they state (no provider is called)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.audit import STRIPE_WEBHOOK, SYSTEM
from portal.delivery import outbox
from portal.delivery.receipts import (
    customer_email_of,
    queue_receipt,
    queue_refund_notice,
    render_notice,
)
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.delivery import DeliveryMessage, MessageStatus
from portal.models.payment import Payment
from portal.models.refund import Refund
from portal.receipts.facts import card_words, local_date, receipt_of
from tests.support.capture import make_capture_request

ADDRESS = "jane.customer@example.com"


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def _emailed_request(agent_id: int, status: str = MessageStatus.SENT):
    """A request whose link went by email, that message now ``status``."""
    request, url = make_capture_request(agent_id, purpose="Gas bill for March")
    message = outbox.queue_link_message(request, url, "email", ADDRESS, SYSTEM)
    message.status = status
    db.session.flush()
    return request


def _payment(request, status: str = "succeeded", **values) -> Payment:
    payment = Payment(
        capture_request_id=request.id,
        amount_minor=1250,
        currency="GBP",
        status=status,
        card_brand="visa",
        card_last4="4242",
        succeeded_at=datetime(2026, 7, 1, 13, 5, tzinfo=UTC),
        **values,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def _refund(payment, staff_id, amount_minor, status) -> Refund:
    refund = Refund(
        payment_id=payment.id,
        amount_minor=amount_minor,
        currency="GBP",
        reason_code="requested_by_customer",
        status=status,
        requested_by_id=staff_id,
        completed_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
    )
    db.session.add(refund)
    db.session.flush()
    return refund


def _receipts():
    return (
        db.session.execute(
            select(DeliveryMessage).where(DeliveryMessage.customer_notice.is_not(None))
        )
        .scalars()
        .all()
    )


def test_a_receipt_goes_to_the_address_the_link_was_emailed_to_once(app, agent):
    with app.app_context():
        request = _emailed_request(agent.id)
        payment = _payment(request)
        message_id = queue_receipt(payment, STRIPE_WEBHOOK)
        assert message_id is not None
        assert queue_receipt(payment, STRIPE_WEBHOOK) is None  # the unique key: once
        db.session.commit()
        [message] = _receipts()
        assert (message.id, message.destination, message.destination_masked) == (
            message_id,
            ADDRESS,
            "j•••@example.com",
        )
        assert (message.customer_notice, message.notice_key, message.sealed_link) == (
            "receipt",
            f"receipt:{payment.id}",
            None,
        )
        [row] = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "receipt.queued")
        ).scalars()
        assert row.target_id == request.public_id and row.details["message_id"] == message_id
        assert "jane" not in json.dumps(row.details).lower()


@pytest.mark.parametrize("status", [MessageStatus.FAILED, MessageStatus.QUEUED])
def test_no_receipt_to_an_address_the_provider_never_accepted(app, agent, status):
    with app.app_context():
        request = _emailed_request(agent.id, status=status)
        assert customer_email_of(request.id) is None
        assert queue_receipt(_payment(request), STRIPE_WEBHOOK) is None
        assert _receipts() == []


def test_no_receipt_for_a_payment_that_has_not_succeeded(app, agent):
    with app.app_context():
        request = _emailed_request(agent.id)
        payment = _payment(request, status="processing")
        assert queue_receipt(payment, STRIPE_WEBHOOK) is None


def test_no_receipt_when_email_is_switched_off(app_factory, make_staff):
    app = app_factory(DELIVERY_EMAIL_BACKEND="disabled")
    agent = make_staff("agent")
    with app.app_context():
        request, _ = make_capture_request(agent.id)
        message = outbox.add_queued_message("email", "dev", ADDRESS, capture_request_id=request.id)
        message.status = MessageStatus.SENT
        db.session.flush()
        assert queue_receipt(_payment(request), STRIPE_WEBHOOK) is None


def test_only_an_erasure_stops_a_queued_receipt(app, agent):
    with app.app_context():
        request = _emailed_request(agent.id)
        queue_receipt(_payment(request), STRIPE_WEBHOOK)
        assert outbox.cancel_pending(request, "revoked", SYSTEM) == 0
        assert _receipts()[0].status == "queued"
        assert outbox.cancel_pending(request, "erasure", SYSTEM) == 1
        db.session.expire_all()
        assert _receipts()[0].status == "cancelled"


def test_a_refund_notice_states_the_refund_and_when_it_arrives(app, agent):
    with app.app_context():
        request = _emailed_request(agent.id)
        payment = _payment(request)
        refund = _refund(payment, agent.id, 500, "succeeded")
        message_id = queue_refund_notice(refund, STRIPE_WEBHOOK)
        assert queue_refund_notice(refund, STRIPE_WEBHOOK) is None
        pending = _refund(payment, agent.id, 200, "pending")
        assert queue_refund_notice(pending, STRIPE_WEBHOOK) is None
        words = render_notice(db.session.get(DeliveryMessage, message_id))
        assert words.subject == "Postern Demo Ltd: your refund of £5.00"
        assert "Refunded to: Visa ending 4242" in words.text_body
        assert "Refunded on: 7 December 2026 at 09:30 UK time" in words.text_body
        assert "usually within 5 to 10 working days" in words.text_body
        assert "For: Gas bill for March" in words.text_body
        assert "usually within 5 to 10 working days" in words.html_body


def test_the_receipt_states_the_refund_totals_it_is_given(app, agent):
    """The totals come from ``portal.refunds.queries.refund_totals`` (their one home), counted
    by status there; the receipt only words them."""
    from portal.refunds.queries import refund_totals

    with app.app_context():
        request = _emailed_request(agent.id)
        payment = _payment(request)
        _refund(payment, agent.id, 500, "succeeded")
        _refund(payment, agent.id, 200, "pending")
        _refund(payment, agent.id, 300, "failed")
        refunded, pending = refund_totals([payment.id])[payment.id]
        receipt = receipt_of(payment, refunded_minor=refunded, refund_pending_minor=pending)
        assert (receipt.refunded, receipt.refund_on_its_way, receipt.fully_refunded) == (
            "£5.00",
            "£2.00",
            False,
        )
        assert receipt_of(payment, refunded_minor=1250).fully_refunded
        plain = receipt_of(payment)  # as the email states it: no refund figures
        assert (plain.refunded, plain.refund_on_its_way, plain.fully_refunded) == (
            None,
            None,
            False,
        )


def test_a_reversed_payment_shows_no_figure_beyond_the_amount(app, agent):
    with app.app_context():
        payment = _payment(_emailed_request(agent.id))
        receipt = receipt_of(
            payment, refunded_minor=1250, refund_pending_minor=200, reversed_by_bank=True
        )
        assert receipt.reversed_by_bank and receipt.amount == "£12.50"
        assert (receipt.refunded, receipt.refund_on_its_way, receipt.fully_refunded) == (
            None,
            None,
            False,
        )


def _link_message(request, channel: str, destination: str, status: str = MessageStatus.SENT):
    """Another link message of ``request`` (a resend), by ``channel``, now ``status``; the
    request's current link is the one it carries."""
    from portal.capture import links

    url = links.link_url(links.make_token(request.public_id, links.new_nonce()))
    message = outbox.queue_link_message(request, url, channel, destination, SYSTEM)
    message.status = status
    request.link_channel = channel
    db.session.flush()
    return message


def test_no_receipt_when_an_emailed_link_was_resent_by_text_message(app, agent):
    """First emailed (perhaps to a mistyped address), then resent by text: the email address
    is not the customer's to trust, so no receipt at all."""
    with app.app_context():
        request = _emailed_request(agent.id)
        _link_message(request, "sms", "07700 900123")
        assert customer_email_of(request.id) is None
        assert queue_receipt(_payment(request), STRIPE_WEBHOOK) is None
        assert _receipts() == []


def test_no_receipt_when_an_emailed_link_was_replaced_by_a_copied_one(app, agent):
    with app.app_context():
        request = _emailed_request(agent.id)
        request.link_channel = "copy"  # a copied link leaves no message, only the request row
        db.session.flush()
        assert customer_email_of(request.id) is None
        assert queue_receipt(_payment(request), STRIPE_WEBHOOK) is None


def test_no_receipt_while_the_resend_by_text_is_not_yet_accepted(app, agent):
    with app.app_context():
        request = _emailed_request(agent.id)
        _link_message(request, "sms", "07700 900123", status=MessageStatus.QUEUED)
        assert customer_email_of(request.id) is None


def test_a_text_message_link_resent_by_email_gets_its_receipt_there(app, agent):
    with app.app_context():
        request, url = make_capture_request(agent.id, purpose="Gas bill for March")
        first = outbox.queue_link_message(request, url, "sms", "07700 900123", SYSTEM)
        first.status = MessageStatus.SENT
        request.link_channel = "sms"
        db.session.flush()
        assert customer_email_of(request.id) is None
        _link_message(request, "email", "Other.Person@Example.com")
        assert customer_email_of(request.id) == "Other.Person@example.com"
        message_id = queue_receipt(_payment(request), STRIPE_WEBHOOK)
        assert db.session.get(DeliveryMessage, message_id).destination == (
            "Other.Person@example.com"
        )


def test_dates_are_in_uk_time_summer_and_winter(app):
    with app.app_context():
        assert local_date(datetime(2026, 7, 1, 13, 5, tzinfo=UTC)) == (
            "1 July 2026 at 14:05 UK time"
        )
        assert local_date(datetime(2026, 12, 7, 13, 5, tzinfo=UTC)) == (
            "7 December 2026 at 13:05 UK time"
        )


@pytest.mark.parametrize(
    ("brand", "last4", "words"),
    [
        ("visa", "4242", "Visa ending 4242"),
        ("amex", "8431", "American Express ending 8431"),
        ("mastercard", "4444", "Mastercard ending 4444"),
        ("some_new_brand", "1234", "Some New Brand ending 1234"),
        (None, "1234", "Card ending 1234"),
        ("visa", None, None),
    ],
)
def test_card_words(brand, last4, words):
    assert card_words(brand, last4) == words
