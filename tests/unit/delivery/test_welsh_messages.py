"""The customer's message, receipt and refund notice in the request's language (Welsh here),
and the Welsh text message held to the same limits as the English one: GSM-7, one segment with
the full link on a typical address, two (with the fuller wording) on a long one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.audit import SYSTEM
from portal.capture import links
from portal.delivery import outbox
from portal.delivery.receipts import queue_receipt, queue_refund_notice, render_notice
from portal.delivery.wording import describe_expiry, render_link_message, sms_length
from portal.extensions import db
from portal.i18n import in_language
from portal.models.delivery import DeliveryMessage
from portal.models.payment import Payment
from portal.models.refund import Refund
from tests.support.capture import capture_request_row, make_capture_request

REALISTIC_BASE = "https://pay.example-contact-centre.co.uk"
LONG_ORG = "O\u2019Brien & Sons \u2013 Gas, Water and Electricity Services Ltd"
#: Characters of written Welsh outside GSM-7: one of them would make the text UCS-2 (70 a
#: segment instead of 160).
WELSH_ONLY = set("âêîôûŵŷÂÊÎÔÛŴŶáéíóúẃýàèìòùẁỳäëïöüẅÿ") - set("éèìòùàäöü")


def _request(kind="payment", language="cy", expires_in=timedelta(minutes=15)):
    request = capture_request_row(
        None,
        kind=kind,
        now=datetime.now(UTC),
        expires_in=expires_in,
        public_id="K7F-3QX-2M9",
        amount_minor=12550 if kind != "data" else None,
    )
    request.language = language
    return request


@pytest.mark.parametrize("language", ["en", "cy"])
@pytest.mark.parametrize("kind", ["payment", "data", "both"])
@pytest.mark.parametrize("days_ahead", [0, 1], ids=["today", "another day"])
def test_the_sms_is_gsm_7_in_at_most_two_segments_in_both_languages(
    app_factory, language, kind, days_ahead
):
    app = app_factory(ORG_NAME=LONG_ORG, PUBLIC_BASE_URL=REALISTIC_BASE)
    request = _request(kind, language, expires_in=timedelta(days=days_ahead, minutes=15))
    with app.app_context():
        url = links.link_url(links.make_token(request.public_id, links.new_nonce()))
        sms = render_link_message(request, url, "sms").text_body
    length = sms_length(sms)
    print(
        f"\n{language} SMS: {length.characters} characters, {length.encoding}, "
        f"{length.segments} segments\n{sms}"
    )
    assert length.encoding == "GSM-7", set(sms) & WELSH_ONLY
    assert length.segments <= 2 and length.units <= 306
    assert sms.endswith(url), "the full link, on a line of its own"
    if language == "cy":
        assert "dolen ddiogel" in sms and "Ni ofynnwn byth am fanylion cerdyn" in sms


@pytest.mark.parametrize("language", ["en", "cy"])
def test_on_a_typical_address_the_sms_is_one_segment_in_both_languages(app_factory, language):
    """The longest name (cut to 24) on a 29-character address: one GSM-7 segment."""
    app = app_factory(ORG_NAME=LONG_ORG, PUBLIC_BASE_URL="https://pay.acme-energy.co.uk")
    with app.app_context():
        url = links.link_url(links.make_token("K7F-3QX-2M9", links.new_nonce()))
        sms = render_link_message(_request("both", language), url, "sms").text_body
    length = sms_length(sms)
    print(f"\n{language} SMS: {length.characters} characters, {length.segments} segment\n{sms}")
    assert (length.encoding, length.segments) == ("GSM-7", 1), length
    words = {"en": "your secure link from our call", "cy": "eich dolen ddiogel o'n galwad"}
    assert sms == f"O'Brien & Sons - Gas: {words[language]}\n{url}"


def test_the_longest_welsh_expiry_still_fits(app_factory):
    """The longest month name (Gorffennaf) and a two-digit day, with the longest name."""
    app = app_factory(ORG_NAME=LONG_ORG, PUBLIC_BASE_URL=REALISTIC_BASE)
    request = _request("both", "cy")
    request.expires_at = datetime(2027, 7, 30, 22, 59, tzinfo=UTC)
    with app.app_context():
        url = links.link_url(links.make_token(request.public_id, links.new_nonce()))
        sms = render_link_message(request, url, "sms").text_body
    assert "23:59 amser y DU ar 30 Gorffennaf" in sms
    length = sms_length(sms)
    assert length.encoding == "GSM-7" and length.segments == 2, length


def test_the_welsh_expiry_names_the_day_in_welsh(app_factory):
    app = app_factory()
    expires = datetime(2026, 7, 1, 13, 35, tzinfo=UTC)
    with app.app_context(), in_language("cy"):
        assert describe_expiry(expires, expires) == "14:35 amser y DU"
        assert describe_expiry(expires, expires - timedelta(days=1)) == (
            "14:35 amser y DU ar 1 Gorffennaf"
        )


def test_the_welsh_email_says_everything_the_english_one_does(app_factory):
    app = app_factory(ORG_NAME="Acme Energy Ltd", PUBLIC_BASE_URL="https://pay.acme.co.uk")
    with app.test_request_context():
        url = links.link_url(links.make_token("K7F-3QX-2M9", links.new_nonce()))
    with app.app_context():
        email = render_link_message(_request("both", "cy"), url, "email")
    assert email.subject == "Acme Energy Ltd: eich dolen ddiogel o'n galwad"
    for body in (email.text_body, email.html_body):
        assert url in body
        assert "Dyma Acme Energy Ltd." in body
        assert "i dalu £125.50 a rhoi'r manylion y gofynnwyd amdanynt:" in body.replace(
            "&#39;", "'"
        )
        assert "pay.acme.co.uk" in body
        assert "Ni fyddwn byth yn gofyn am fanylion eich cerdyn" in body
    assert '<html lang="cy">' in email.html_body
    english = None
    with app.app_context():
        english = render_link_message(_request("both", "en"), url, "email")
    assert '<html lang="en-GB">' in english.html_body and "Hello," in english.text_body


def test_a_staff_page_rendering_a_welsh_message_gets_welsh_and_stays_english(app_factory):
    """The development outbox (a staff page) shows the message as the customer gets it."""
    from flask_babel import gettext

    app = app_factory(PUBLIC_BASE_URL="https://pay.acme.co.uk")
    with app.test_request_context("/dev/outbox"):
        url = links.link_url(links.make_token("K7F-3QX-2M9", links.new_nonce()))
        sms = render_link_message(_request("payment", "cy"), url, "sms").text_body
        assert "dolen ddiogel" in sms
        assert gettext("Continue") == "Continue", "the page itself is still in English"


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def test_the_receipt_and_refund_notice_follow_the_request_language(app, agent):
    with app.app_context():
        request, url = make_capture_request(agent.id, purpose="Bil nwy mis Mawrth")
        request.language = "cy"
        message = outbox.queue_link_message(request, url, "email", "jane@example.com", SYSTEM)
        message.status = "sent"
        payment = Payment(
            capture_request_id=request.id,
            amount_minor=1250,
            currency="GBP",
            status="succeeded",
            card_brand="visa",
            card_last4="4242",
            succeeded_at=datetime(2026, 7, 1, 13, 5, tzinfo=UTC),
        )
        db.session.add(payment)
        db.session.flush()
        receipt_id = queue_receipt(payment, SYSTEM)
        receipt = render_notice(db.session.get(DeliveryMessage, receipt_id))
        assert receipt.subject == "Postern Demo Ltd: eich derbynneb am £12.50"
        assert "Dyma eich derbynneb gan Postern Demo Ltd." in receipt.text_body
        assert "Visa yn gorffen â 4242" in receipt.text_body
        assert "1 Gorffennaf 2026 am 14:05 amser y DU" in receipt.text_body
        assert '<html lang="cy">' in receipt.html_body
        refund = Refund(
            payment_id=payment.id,
            amount_minor=500,
            currency="GBP",
            reason_code="requested_by_customer",
            status="succeeded",
            requested_by_id=agent.id,
            completed_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        )
        db.session.add(refund)
        db.session.flush()
        notice_id = queue_refund_notice(refund, SYSTEM)
        notice = render_notice(db.session.get(DeliveryMessage, notice_id))
        assert notice.subject == "Postern Demo Ltd: eich ad-daliad o £5.00"
        assert "fel arfer o fewn 5 i 10 diwrnod gwaith" in notice.text_body
        assert "7 Rhagfyr 2026 am 09:30 amser y DU" in notice.text_body
        db.session.rollback()
