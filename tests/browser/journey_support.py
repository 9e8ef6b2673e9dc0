"""The browser journeys' world, written once for both places Postern runs in the tests.

The ``portal`` fixture is parametrized:

- ``dev``: the testing app served by werkzeug in a thread (as ``live_server``), talking to the
  session's Stripe sandbox (its webhooks signed back to the portal), emailing through a real
  SMTP server (aiosmtpd) with ``DELIVERY_EMAIL_BACKEND=smtp``, the outbox, webhook and
  outbound-webhook workers running in threads;
- ``prodlike``: the production-like stack (tests/prodlike/stack.py): nginx over TLS, gunicorn
  with ``POSTERN_ENV=production``, PostgreSQL, Redis rate limits, ``flask outbox work`` and
  ``flask webhooks work`` and ``flask hooks work`` as processes, the sandbox on its own HTTPS
  origin, its Mailbox.

Either way a journey sees one small interface, :class:`Portal`: ``url``, ``make_staff``, the
emails sent, the sandbox, an app for direct database reads, and a check of the audit chain.
Helpers for what people do on the pages (sign in, go through the customer's steps) follow.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.support.chromium import TIMEOUT_MS, BrowserProblems
from tests.support.loopback import wait_until
from tests.support.payments import (
    WEBHOOK_SECRET,
    live_portal,
    sandbox_settings,
    webhook_worker,
    worker_in_thread,
)
from tests.support.staff import DEFAULT_PASSWORD

#: How long an outcome that travels through a worker (a webhook, an email) may take to show.
#: On the stack a webhook goes sandbox -> nginx -> gunicorn -> queue -> worker process.
OUTCOME_MS = 20_000
#: What the customer typed on the address step, distinctive enough to search for.
ADDRESS = {
    "#address_line1": "17 Quillfeather Mews",
    "#town": "Wexcombe Parva",
    "#postcode": "ZE2 9QX",
}


@dataclass
class Portal:
    """One running Postern, as a journey needs it."""

    variant: str  # "dev" or "prodlike"
    url: str  # the origin browsers use, no trailing slash
    app: Any  # a Flask app on the same database, for direct reads (it serves nothing here)
    sandbox: Any  # stripe_sandbox.runner.SandboxServer
    mail: Any  # the SMTP server's handler: ``.messages``, parsed, oldest first
    create_staff: Callable[[str, str, bool], str | None]  # (role, username, mfa) -> secret
    stack: Any = None  # tests.prodlike.stack.Stack on the production-like variant

    @property
    def org_name(self) -> str:
        return self.app.config["ORG_NAME"]

    def make_staff(self, role: str, *, mfa: bool | None = None) -> tuple[str, str | None]:
        """A new staff account; returns (username, TOTP secret or None). ``mfa`` defaults to
        what this Postern requires of the role: on the production-like stack agents too
        (AGENT_MFA_REQUIRED is on in production), on the development server every role but
        the agent."""
        from portal.security.authz import mfa_required

        username = f"{role}.{secrets.token_hex(3)}"
        agents = self.app.config["AGENT_MFA_REQUIRED"]
        enrolled = mfa_required(role, agents=agents) if mfa is None else mfa
        return username, self.create_staff(role, username, enrolled)

    def staff_id(self, username: str) -> int:
        from portal.extensions import db
        from portal.models.staff import StaffUser

        with self.app.app_context():
            return db.session.execute(
                select(StaffUser.id).where(StaffUser.username == username)
            ).scalar_one()

    def email_to(self, address: str, timeout: float = OUTCOME_MS / 1000) -> EmailMessage:
        """The one email the SMTP server received for ``address`` (waits for it)."""
        found = wait_until(
            lambda: [m for m in list(self.mail.messages) if address in str(m["To"])],
            timeout,
            f"an email to {address}",
        )
        assert len(found) == 1, f"{len(found)} emails to {address}"
        return found[0]

    def link_in(self, email: EmailMessage) -> str:
        """The customer link in an email's text part (and the same in its HTML part)."""
        text, html = (part.get_content() for part in email.iter_parts())
        links = re.findall(re.escape(self.url) + r"/c/[A-Za-z0-9._-]+", text)
        assert len(links) == 1, text
        assert f'href="{links[0]}"' in html
        return links[0]

    def assert_audit_chain_verifies(self) -> None:
        """``flask audit verify`` as the operator runs it (on the stack: the real command with
        the stack's environment; on the development server: the same command in-process)."""
        if self.stack is not None:
            done = self.stack.flask("audit", "verify")
            status, said = done.returncode, done.stdout + done.stderr
        else:
            done = self.app.test_cli_runner().invoke(args=["audit", "verify"])
            status, said = done.exit_code, done.output
        assert status == 0 and "audit chain intact" in said, said


@contextmanager
def outbox_worker(app, poll_seconds: float = 0.05):
    """``flask outbox work``'s loop in a thread (as ``webhook_worker`` runs the webhook one)."""
    from portal.delivery.worker import run_once

    stop = threading.Event()
    batch = lambda: run_once(worker_id="test-outbox-thread", stop=stop)  # noqa: E731
    with worker_in_thread(app, "outbox worker", batch, poll_seconds, stop):
        yield


@contextmanager
def hooks_worker(app, poll_seconds: float = 0.05):
    """``flask hooks work``'s loop in a thread: outbound webhooks to the buyer's endpoints."""
    from portal.hooks.worker import run_once

    stop = threading.Event()
    batch = lambda: run_once(worker_id="test-hooks-thread")  # noqa: E731
    with worker_in_thread(app, "hooks worker", batch, poll_seconds, stop):
        yield


@contextmanager
def development_portal(app_factory, sandbox, make_staff) -> Iterator[Portal]:
    from tests.support.delivery import smtp_config, smtp_server
    from tests.support.loopback import free_port

    smtp_port = free_port()
    controller, handler = smtp_server(smtp_port)
    controller.start()
    app = app_factory(
        **sandbox_settings(sandbox, STRIPE_TIMEOUT_SECONDS=5), **smtp_config(smtp_port)
    )

    def create_staff(role: str, username: str, mfa: bool) -> str | None:
        return make_staff(role, username=username, mfa=mfa).totp_secret

    try:
        with (
            live_portal(app) as url,
            webhook_worker(app),
            outbox_worker(app),
            hooks_worker(app),
        ):
            # Links in messages name the address browsers reach the server on.
            app.config["PUBLIC_BASE_URL"] = url
            sandbox.set_webhook(f"{url}/webhooks/stripe", WEBHOOK_SECRET)
            yield Portal(
                "dev",
                url,
                app,
                sandbox,
                handler,
                create_staff,
            )
            sandbox.set_webhook(None)
    finally:
        controller.stop()


def _stack_portal(stack) -> Portal:
    return Portal(
        "prodlike",
        stack.url,
        stack.app(),
        stack.sandbox,
        stack.mailbox,
        lambda role, username, mfa: stack.add_staff(role, username, DEFAULT_PASSWORD, mfa=mfa),
        stack,
    )


@pytest.fixture(params=["dev", pytest.param("prodlike", marks=pytest.mark.prodlike)])
def portal(request) -> Iterator[Portal]:
    """Postern on the development server, then on the production-like stack."""
    if request.param == "prodlike":
        yield _stack_portal(request.getfixturevalue("prodlike"))
        return
    with development_portal(
        request.getfixturevalue("app_factory"),
        request.getfixturevalue("stripe_sandbox"),
        request.getfixturevalue("make_staff"),
    ) as running:
        yield running


@pytest.fixture
def actor(browser: Browser, browser_problems: BrowserProblems) -> Iterator[Callable[[], Page]]:
    """``actor()``: a page in a browser context of its own (one per person), watched for CSP
    violations and JavaScript errors."""
    contexts = []

    def new_page(**options) -> Page:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(2 * TIMEOUT_MS)
        contexts.append(context)
        return browser_problems.watch(context.new_page())

    yield new_page
    for context in contexts:
        context.close()


# --- what people do on the pages -----------------------------------------------------------


def code_for(totp_secret: str, *, steps_ahead: int = 0) -> str:
    """The authenticator's code; ``steps_ahead=1`` is the next one (a code works only once, so
    a re-authentication right after signing in uses the next, accepted for clock drift)."""
    totp = pyotp.TOTP(totp_secret)
    return totp.at(time.time() + steps_ahead * totp.interval)


def sign_in(page: Page, portal: Portal, username: str, totp_secret: str | None, lands_on: str):
    """Password, then (when enrolled) the authenticator code; ends on the ``lands_on`` page."""
    page.goto(portal.url + "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp_secret:
        expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
        page.get_by_label("Code").fill(code_for(totp_secret))
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=lands_on, exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(username)


def confirm_it_is_me(page: Page, totp_secret: str) -> None:
    """The back office's re-authentication page: password and a fresh code."""
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("confirm it is you")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(code_for(totp_secret, steps_ahead=1))
    page.get_by_role("button", name="Confirm").click()


def open_emailed_link(page: Page, portal: Portal, email: EmailMessage) -> None:
    """The customer reads the email (its HTML part) and follows the link in it."""
    link = portal.link_in(email)
    page.set_content(email.get_body(preferencelist=("html",)).get_content())
    page.get_by_role("link", name=link).click()
    expect(page).to_have_url(link)


def start_and_confirm(
    page: Page, portal: Portal, link: str | None = None, postcode: str = "SW1A 1AA"
) -> str:
    """The customer opens the link (unless already on its page), presses Start and answers the
    identity question; returns the read-back code their screen showed."""
    if link is not None:
        page.goto(link)
    expect(page.get_by_role("heading", name=f"Secure link from {portal.org_name}")).to_be_visible()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="Confirm who you are")).to_be_visible()
    code = page.locator(".readback-code").inner_text()
    page.get_by_label("What is the postcode of your address?").fill(postcode)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, you are confirmed")).to_be_visible()
    return code


def give_address(page: Page) -> None:
    """From the summary of a payment-and-details request: the address step (step 1 of 2),
    sent, its confirmation read, and on to the payment (step 2 of 2)."""
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Your postal address")).to_be_visible()
    expect(page.get_by_text("Step 1 of 2: your details")).to_be_visible()
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    for selector, value in ADDRESS.items():
        page.locator(selector).fill(value)
    page.get_by_role("button", name="Send my details").click()
    expect(page.get_by_role("heading", name="Details received")).to_be_visible()
    page.get_by_role("link", name="Continue to payment").click()
    expect(page.get_by_text("Step 2 of 2: payment")).to_be_visible()


def pay_button(page: Page, amount: str):
    return page.get_by_role("button", name=f"Pay {amount}")


def press_pay(pay) -> None:
    """Press Pay after typing a card, as a person does: scroll it into view, then tap.

    Below the fold (the Payment Element with its wallet is taller than a 720-pixel window), a
    click that must scroll first can miss on the production-like stack: there the card frame
    is on another site (an out-of-process frame in Chromium), it still has the focus, and the
    click lands in the frame at the button's pre-scroll position instead of on the button.
    """
    pay.scroll_into_view_if_needed()
    pay.click()
