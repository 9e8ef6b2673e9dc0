"""The customer journey with the keyboard alone (WCAG 2.1.1), and errors that reach screen
readers (WCAG 4.1.3, 3.3.1).

No click, no ``fill``: only Tab, Enter and typed characters, from the link to the
confirmation: landing -> Start -> identity question -> summary -> personal details (first
with a mistake, corrected from the error summary) -> "Details received". Along the way:
the skip link is the first stop, and after a failed form the error summary (role=alert) has
the focus, so a screen reader reads it at once, and its links take the focus to the field.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.capture import create_direct, path_of

pytestmark = pytest.mark.browser

#: Tab presses allowed to reach one control before the test gives up.
MAX_TABS = 30
FOCUSED = """() => {
  const el = document.activeElement;
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    text: (el.innerText || el.value || '').trim(),
    role: el.getAttribute('role'),
    classes: el.className,
  };
}"""


def focused(page: Page) -> dict:
    return page.evaluate(FOCUSED)


def tab_to(page: Page, *, text: str | None = None, id: str | None = None) -> dict:
    """Press Tab until the focused element has this visible text (or id)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        now = focused(page)
        if (text is not None and now["text"] == text) or (id is not None and now["id"] == id):
            return now
    raise AssertionError(f"Tab never reached {text or id!r}")


def type_into(page: Page, field_id: str, value: str) -> None:
    tab_to(page, id=field_id)
    page.keyboard.type(value)


def test_the_whole_journey_by_keyboard(page, live_server, make_staff):
    _, url = create_direct(
        live_server.app,
        make_staff("agent").id,
        kind="data",
        field_set="address",
        amount_minor=None,
        currency=None,
    )
    page.goto(live_server.url + path_of(url))

    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Skip to main content"  # the first stop
    tab_to(page, text="Start")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Confirm who you are")).to_be_visible()
    type_into(page, "answer", "SW1A 1AA")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Thank you, you are confirmed")).to_be_visible()
    tab_to(page, text="Continue")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Your postal address")).to_be_visible()
    type_into(page, "address_line1", "17 Quillfeather Mews")
    type_into(page, "postcode", "ZE2 9QX")  # town left out: a mistake
    tab_to(page, text="Send my details")
    page.keyboard.press("Enter")

    # The error summary has the focus (read out at once) and is an alert.
    expect(page.locator(".error-summary")).to_be_focused()
    summary = focused(page)
    assert summary["role"] == "alert" and "There is a problem" in summary["text"]
    assert page.title().startswith("Error: ")
    tab_to(page, text="Enter town or city")
    page.keyboard.press("Enter")
    expect(page.locator("#town")).to_be_focused()  # the summary's link lands on the field
    page.keyboard.type("Wexcombe Parva")
    tab_to(page, text="Send my details")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Details received")).to_be_visible()
    assert _status(live_server.app, path_of(url)) == "succeeded"


def test_a_wrong_identity_answer_is_announced(page, live_server, make_staff):
    _, url = create_direct(live_server.app, make_staff("agent").id)
    page.goto(live_server.url + path_of(url))
    tab_to(page, text="Start")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Confirm who you are")).to_be_visible()
    type_into(page, "answer", "AB1 2CD")
    page.keyboard.press("Enter")

    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_contain_text("does not match our records")
    expect(page.locator("#answer")).to_have_attribute("aria-invalid", "true")
    assert page.title().startswith("Error: ")


def _status(app, link_path: str) -> str:
    from portal.capture import links
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        claim = links.read_token(link_path.rsplit("/", 1)[1])
        return db.session.query(CaptureRequest).filter_by(public_id=claim.public_id).one().status
