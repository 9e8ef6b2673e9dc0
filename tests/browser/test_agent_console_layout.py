"""The agent console as a busy agent meets it, in Chromium: the create form shows only what the
chosen kind needs with "Create and send" on screen at 1366x768 (and every field without
JavaScript), it works from the keyboard alone with the focus landing on what was just made,
and its pages (and the accessibility statement) pass axe-core at desktop and phone sizes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import AxeAudit
from tests.support.artifacts import ARTIFACTS
from tests.support.chromium import BrowserProblems
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

AGENT_SCREEN = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
KINDS = ("Payment", "Personal details", "Payment and personal details")
#: The fields each kind needs, by the id of their control.
NEEDED = {
    "Payment": {"amount", "currency", "purpose"},
    "Personal details": {"field_set"},
    "Payment and personal details": {"amount", "currency", "purpose", "field_set"},
}
KIND_FIELDS = {"amount", "currency", "purpose", "field_set"}
ALWAYS = {"reference", "interaction_id", "identity_item", "identity_value", "expiry_minutes"}


def screenshot(page: Page, name: str) -> None:
    folder = ARTIFACTS / "agent_console"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


@pytest.fixture
def console_at(browser: Browser, browser_problems: BrowserProblems, live_server, make_staff):
    """``console_at(viewport, javascript=True)``: a signed-in agent's console page."""
    contexts = []

    def open_console(viewport=AGENT_SCREEN, javascript=True) -> Page:
        context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
        contexts.append(context)
        page = browser_problems.watch(context.new_page())
        username = make_staff("agent").username
        page.goto(live_server.url + "/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Agent console")).to_be_visible()
        return page

    yield open_console
    for context in contexts:
        context.close()


def _inside_viewport(page: Page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )


def _visible_fields(page: Page) -> set[str]:
    ids = KIND_FIELDS | ALWAYS | {"destination"}
    return {name for name in ids if page.locator(f"#{name}").is_visible()}


@pytest.mark.parametrize("kind", KINDS)
def test_create_and_send_is_on_screen_for_each_kind(console_at, kind):
    page = console_at()
    page.get_by_label(kind, exact=True).check()
    for channel in ("Text message (SMS)", "Copy link / QR code"):
        page.get_by_label(channel).check()
        button = page.get_by_role("button", name="Create and send")
        assert page.evaluate("() => window.scrollY") == 0
        assert _inside_viewport(page, button), f"{kind}, {channel}: {button.bounding_box()}"
        assert _visible_fields(page) & KIND_FIELDS == NEEDED[kind]
        assert _visible_fields(page) >= ALWAYS
        assert page.locator("#destination").is_visible() == (channel != "Copy link / QR code")
    screenshot(page, f"create-{kind.replace(' ', '-').lower()}")


def test_without_javascript_every_field_shows_and_a_data_request_is_made(console_at):
    page = console_at(javascript=False)
    assert _visible_fields(page) == KIND_FIELDS | ALWAYS | {"destination"}
    page.get_by_label("Personal details", exact=True).check()
    page.get_by_label("Details to collect").select_option("address")
    page.get_by_label("Your reference").fill("NOJS-1")
    page.get_by_label("Expected answer").fill("SW1A 1AA")
    page.get_by_label("Copy link / QR code").check()
    page.get_by_role("button", name="Create and send").click()
    expect(page.get_by_role("heading", name="Link ready: NOJS-1")).to_be_visible()


def test_a_value_typed_for_another_kind_is_not_sent(console_at):
    page = console_at()
    page.get_by_label("Amount").fill("abc")  # would be refused for a payment
    page.get_by_label("Personal details", exact=True).check()
    page.get_by_label("Details to collect").select_option("address")
    page.get_by_label("Your reference").fill("DATA-1")
    page.get_by_label("Expected answer").fill("SW1A 1AA")
    page.get_by_label("Copy link / QR code").check()
    page.get_by_role("button", name="Create and send").click()
    expect(page.get_by_role("heading", name="Link ready: DATA-1")).to_be_visible()


FOCUSED = "() => { const el = document.activeElement; return el.id || el.name || el.tagName; }"


def _tab(page: Page) -> str:
    page.keyboard.press("Tab")
    return page.evaluate(FOCUSED)


def _tab_to(page: Page, wanted: str, limit: int = 30) -> None:
    for _ in range(limit):
        if _tab(page) == wanted:
            return
    raise AssertionError(f"Tab never reached {wanted}")


def test_the_form_by_keyboard_alone_then_focus_on_the_new_request(console_at):
    page = console_at()
    _tab_to(page, "kind")  # the checked radio of "What do you need from the customer?"
    order = [_tab(page) for _ in range(11)]
    assert order == [
        "amount",
        "currency",
        "purpose",
        "reference",
        "interaction_id",
        "identity_item",
        "identity_value",
        "expiry_minutes",
        "language",
        "channel",
        "destination",
    ]
    assert _tab(page) == "BUTTON"  # then "Create and send"
    page.keyboard.press("Shift+Tab")  # back to the destination
    page.keyboard.type("07700 900123")
    for field, text in (("amount", "42.10"), ("purpose", "Water bill"), ("reference", "KB-1")):
        page.locator(f"#{field}").focus()  # the order is proven above; type as an agent would
        page.keyboard.type(text)
    page.locator("#identity_value").focus()
    page.keyboard.type("SW1A 1AA")
    page.keyboard.press("Enter")  # Enter sends the form
    expect(page.get_by_role("status").filter(has_text="Request created")).to_be_visible()
    panel = page.locator("article.request-panel").first
    expect(panel).to_be_focused()
    expect(panel).to_contain_text("KB-1")
    screenshot(page, "after-create-sms")

    # Copy link: the focus goes to the link to give, ready to copy.
    form = page.locator("form.create-form")
    form.get_by_label("Your reference").fill("KB-2")
    form.get_by_label("Amount").fill("5")
    form.get_by_label("What the payment is for").fill("Water bill")
    form.get_by_label("Expected answer").fill("SW1A 1AA")
    form.get_by_label("Copy link / QR code").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    issued = page.locator("section.issued-link")
    expect(issued).to_be_focused()
    expect(issued.get_by_role("heading", name="Link ready: KB-2")).to_be_visible()
    screenshot(page, "after-create-copy")


def test_the_console_and_the_statement_pass_axe(console_at, page, live_server):
    audit = AxeAudit()
    console = console_at()
    for kind in KINDS:
        console.get_by_label(kind, exact=True).check()
        audit.check(console, f"console, {kind}")
    console.get_by_role("button", name="Create and send").click()
    expect(console.locator(".error-summary")).to_be_focused()
    audit.check(console, "console, errors")
    phone = console_at(PHONE)
    screenshot(phone, "console-phone")
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/accessibility")
    expect(page.get_by_role("heading", name="Accessibility statement")).to_be_visible()
    audit.check(page, "accessibility statement")
    screenshot(page, "statement-phone")
    page.set_viewport_size(AGENT_SCREEN)
    screenshot(page, "statement-desktop")
    audit.assert_clean()


def test_the_live_refresh_asks_for_the_filtered_list_and_the_panels_shown(console_at, live_server):
    page = console_at()
    form = page.locator("form.create-form")
    for reference in ("GAS-1", "WATER-1"):
        form.get_by_label("Your reference").fill(reference)
        form.get_by_label("Amount").fill("5")
        form.get_by_label("What the payment is for").fill("Bill")
        form.get_by_label("Expected answer").fill("SW1A 1AA")
        form.get_by_label("Copy link / QR code").check()
        form.get_by_role("button", name="Create and send").click()
        expect(page.get_by_role("heading", name=f"Link ready: {reference}")).to_be_visible()
    page.get_by_label("Show").select_option("open")
    page.get_by_label("Reference or request id").fill("gas")
    with page.expect_request(
        lambda sent: "/agent/api/requests" in sent.url and "state=open" in sent.url
    ) as polled:
        page.get_by_role("button", name="Show requests").click()
    panels = page.locator("article.request-panel")
    expect(panels).to_have_count(1)
    shown = panels.first.get_attribute("data-request")
    url = polled.value.url
    assert "q=gas" in url and f"shown={shown}" in url
    assert "Showing 1 to 1 of 1 matching" in page.locator("#list-count").inner_text()


def test_closed_requests_read_as_closed(console_at, live_server):
    """Locked, expired and paid requests as the agent sees them: no "Link works until", no green
    "Finished" but where it finished well, and no "Identity confirmed" without a check."""
    from datetime import timedelta

    from portal.models.types import utcnow
    from tests.support.capture import create_direct, update_request

    page = console_at()
    agent_id = live_server.app.config  # the console's agent is the newest staff member
    with live_server.app.app_context():
        from sqlalchemy import func, select

        from portal.extensions import db
        from portal.models.staff import StaffUser

        agent_id = db.session.execute(select(func.max(StaffUser.id))).scalar_one()
    now = utcnow()
    states = {
        "LOCKED-1": {"status": "locked", "status_reason": "identity_failed", "finished_at": now},
        "LAPSED-1": {"expires_at": now - timedelta(minutes=1)},
        "DONE-1": {"status": "succeeded", "finished_at": now, "verified_at": now},
    }
    for reference, values in states.items():
        public_id = create_direct(live_server.app, agent_id, reference=reference)[0]
        update_request(live_server.app, public_id, **values)
    unchecked = create_direct(
        live_server.app, agent_id, reference="NOCHECK-1", identity_item=None, identity_value=None
    )[0]
    update_request(live_server.app, unchecked, status="verified", verified_at=now, bound_at=now)
    page.reload()

    def panel(reference):
        return page.locator("article.request-panel", has_text=reference)

    for reference in ("LOCKED-1", "LAPSED-1"):
        expect(panel(reference)).not_to_contain_text("Link works until")
        expect(panel(reference).locator(".step-done[data-step='finished']")).to_have_count(0)
    expect(panel("LAPSED-1")).to_contain_text("Link stopped working at")
    expect(panel("LOCKED-1").locator("[data-step='finished']")).to_have_class("step step-stopped")
    expect(panel("DONE-1").locator("[data-step='finished']")).to_have_class("step step-done")
    expect(panel("NOCHECK-1").locator(".js-label")).to_have_text("Started, no identity check")
    expect(panel("NOCHECK-1")).not_to_contain_text("Identity confirmed")
    page.set_viewport_size({"width": 1366, "height": 1600})
    screenshot(page, "closed-requests")


def test_a_form_filled_in_from_a_crm_still_has_create_and_send_on_screen(console_at, live_server):
    """Click-to-create (``/agent/new``): the heading says where the values came from, and the
    agent still presses Create and send without scrolling at 1366x768."""
    page = console_at()
    page.goto(live_server.url + "/agent/new?amount=4250&currency=GBP&reference=ACC-2002")
    expect(page.get_by_role("heading", name="New request, filled in from your CRM")).to_be_visible()
    expect(page.get_by_label("Amount")).to_have_value("42.50")
    button = page.get_by_role("button", name="Create and send")
    assert _inside_viewport(page, button), button.bounding_box()
    screenshot(page, "create-from-crm")
