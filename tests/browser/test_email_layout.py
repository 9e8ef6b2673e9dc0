"""The HTML emails as a customer's phone and a desktop mail program show them: the
organisation's band, the message on white, no wider than the screen, the full link readable,
in English and Welsh. Each is saved as a screenshot (artifacts ``emails/``) for review."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page

from portal.audit import SYSTEM
from portal.delivery import outbox
from portal.delivery.receipts import queue_receipt, render_notice
from portal.delivery.wording import render_link_message
from portal.extensions import db
from portal.models.delivery import DeliveryMessage
from portal.models.payment import Payment
from tests.support.artifacts import ARTIFACTS
from tests.support.capture import make_capture_request

pytestmark = pytest.mark.browser

SIZES = {"390": (390, 844), "1366": (1366, 768)}


@pytest.fixture
def emails(app, make_staff):
    """{(name, language): html} for the link email and the receipt."""
    agent = make_staff("agent")
    rendered = {}
    with app.app_context():
        for language in ("en", "cy"):
            request, url = make_capture_request(agent.id, purpose="March gas bill")
            request.language = language
            rendered["link", language] = render_link_message(request, url, "email").html_body
            message = outbox.queue_link_message(request, url, "email", "jo@example.com", SYSTEM)
            message.status = "sent"
            payment = Payment(
                capture_request_id=request.id,
                amount_minor=12550,
                currency="GBP",
                status="succeeded",
                card_brand="visa",
                card_last4="4242",
                succeeded_at=datetime(2026, 7, 1, 13, 5, tzinfo=UTC),
            )
            db.session.add(payment)
            db.session.flush()
            receipt = render_notice(db.session.get(DeliveryMessage, queue_receipt(payment, SYSTEM)))
            rendered["receipt", language] = receipt.html_body
        db.session.rollback()
    return rendered


def _show(page: Page, html: str, size: str) -> None:
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.set_content(html)


@pytest.mark.parametrize("size", SIZES)
def test_each_email_fits_the_screen_and_shows_its_band_and_link(page, emails, size):
    folder = ARTIFACTS / "emails"
    folder.mkdir(parents=True, exist_ok=True)
    for (name, language), html in emails.items():
        _show(page, html, size)
        page.screenshot(path=str(folder / f"{name}-{language}-{size}.png"), full_page=True)
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size][0]
        # The message sits on white, at most 600 px wide, under the organisation's band.
        band = page.get_by_text("Postern Demo Ltd", exact=True).first
        assert band.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(20, 58, 107)"
        assert page.evaluate("document.querySelectorAll('table')[1].offsetWidth") <= 600
        assert page.locator("html").get_attribute("lang") == {"en": "en-GB", "cy": "cy"}[language]
        if name == "link":
            link = page.locator("a[href*='/c/']")
            assert link.inner_text() == link.get_attribute("href"), "the real address, in full"
            assert link.bounding_box()["width"] <= SIZES[size][0]
