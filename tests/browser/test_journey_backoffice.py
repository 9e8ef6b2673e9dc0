"""The back office and the auditor, on the development server and on the production-like
stack (``portal``, tests/browser/journey_support.py).

A customer pays £150.00 and gives their address through the real pages. A back-office officer
signs in with their authenticator, finds the request, asks for a full refund (re-authenticating
first; above the dual-control limit it waits for a second person), reveals one personal-data
field with a reason, downloads the CSV export and the data subject's access export. A second
officer approves the refund (re-authenticating too) and it goes to Stripe. An auditor signs in
and sees the audit log, and that its hash chain verifies.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.browser.journey_support import (
    ADDRESS,
    OUTCOME_MS,
    Portal,
    confirm_it_is_me,
    give_address,
    pay_button,
    press_pay,
    sign_in,
    start_and_confirm,
)
from tests.browser.stripe_card import CARD, enter_card
from tests.support.backoffice_write import refunds_in_db
from tests.support.capture import create_direct
from tests.support.loopback import wait_until

pytestmark = pytest.mark.browser

AMOUNT_MINOR, AMOUNT = 15_000, "£150.00"


def paid_with_address(portal: Portal, actor, reference: str) -> str:
    """A payment-and-address request the customer completed in their browser; its public id."""
    agent, _ = portal.make_staff("agent")
    public_id, link = create_direct(
        portal.app,
        portal.staff_id(agent),
        kind="both",
        field_set="address",
        amount_minor=AMOUNT_MINOR,
        reference=reference,
    )
    customer = actor()
    start_and_confirm(customer, portal, link)
    give_address(customer)
    pay = pay_button(customer, AMOUNT)
    expect(pay).to_be_enabled()
    enter_card(customer, CARD)
    press_pay(pay)
    expect(customer.get_by_role("heading", name="Payment received")).to_be_visible(
        timeout=OUTCOME_MS
    )
    customer.context.close()
    return public_id


def downloaded(page: Page, trigger) -> str:
    """Press what starts a download; the file's text."""
    with page.expect_download() as started:
        trigger.click()
    return Path(started.value.path()).read_text(encoding="utf-8-sig")


def search_by_reference(page: Page, reference: str) -> None:
    """The transactions list, searched by reference: one row."""
    page.get_by_role("navigation", name="Back office sections").get_by_role(
        "link", name="Transactions"
    ).click()
    page.get_by_label("Reference").fill(reference)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.transactions tbody tr")).to_have_count(1)


def find_request(page: Page, reference: str, public_id: str) -> None:
    search_by_reference(page, reference)
    page.get_by_role("link", name=public_id).click()
    expect(page.get_by_role("heading", name=f"Request {public_id}")).to_be_visible()


def ask_for_full_refund(page: Page) -> None:
    page.get_by_label("Everything that is left").check()
    page.get_by_label("Reason", exact=True).select_option(label="The customer asked for a refund")
    page.get_by_label("Note for the audit trail").fill("Customer cancelled the service")
    page.get_by_role("button", name="Refund").click()


def test_refund_with_dual_control_reveal_and_both_exports(portal, actor):
    from portal.card_numbers import contains_pan
    from portal.reporting.export_format import neutralise

    reference = f"ACC-{secrets.token_hex(3).upper()}"
    public_id = paid_with_address(portal, actor, reference)
    first, first_secret = portal.make_staff("backoffice")
    second, second_secret = portal.make_staff("backoffice")
    assert first_secret and second_secret, "back-office staff must have two-step verification"

    officer = actor(accept_downloads=True)
    sign_in(officer, portal, first, first_secret, lands_on="Back office")
    find_request(officer, reference, public_id)
    payment = officer.get_by_role("region", name="Payment")
    expect(payment).to_contain_text("Visa \u2022\u2022\u2022\u2022 4242")
    expect(payment).to_contain_text(AMOUNT)

    # A refund above the dual-control limit: re-authenticate, then it waits for a second person.
    officer.get_by_role("link", name="Refund this payment").click()
    expect(officer.get_by_test_id("remaining")).to_have_text(AMOUNT)
    ask_for_full_refund(officer)
    confirm_it_is_me(officer, first_secret)
    expect(officer.get_by_role("heading", name="Refund a payment")).to_be_visible()
    ask_for_full_refund(officer)
    expect(officer.get_by_role("status")).to_contain_text(
        f"Refund of {AMOUNT} saved. It is above £100.00, so a second person must approve it"
    )
    expect(officer.get_by_test_id("refund-status")).to_have_text(
        "Waiting for a second person to approve"
    )
    expect(officer.get_by_text("Waiting for someone other than")).to_be_visible()
    expect(officer.get_by_role("button", name="Approve and send to Stripe")).to_have_count(0)

    # One personal-data field, revealed with a reason.
    find_request(officer, reference, public_id)
    officer.get_by_role("link", name="Personal details (reveal with a reason)").click()
    expect(
        officer.get_by_role("heading", name=f"Personal data for request {public_id}")
    ).to_be_visible()
    officer.get_by_label("Field to reveal").select_option(label="Postcode")
    officer.get_by_label("Why do you need to see it?").fill("Customer asked us to confirm it")
    officer.get_by_role("button", name="Reveal").click()
    expect(officer.get_by_test_id("revealed-value")).to_have_text(ADDRESS["#postcode"])

    # The CSV export of the search: the paid request's row, and never a card number.
    search_by_reference(officer, reference)
    text = downloaded(officer, officer.get_by_role("link", name="Download all matching rows (CSV)"))
    rows = list(csv.DictReader(io.StringIO(text)))
    # A public id may start with "-", which the export neutralises like any formula trigger.
    assert [(r["request_id"], r["reference"], r["payment_status"]) for r in rows] == [
        (neutralise(public_id), reference, "Paid")
    ]
    assert rows[0]["amount"] == "150.00" and "4242" in rows[0]["card"]
    assert not contains_pan(text) and CARD.replace(" ", "") not in text

    # The data subject's access export.
    officer.get_by_role("link", name="Data-subject requests").click()
    officer.get_by_label("Find a person's requests").fill(reference)
    officer.get_by_role("button", name="Find").click()
    officer.get_by_role("link", name=public_id).click()
    expect(
        officer.get_by_role("heading", name=f"Data held for request {public_id}")
    ).to_be_visible()
    officer.get_by_label("Reason (for example the data subject request reference)").fill(
        "DSAR-2024-0117"
    )
    text = downloaded(officer, officer.get_by_role("button", name="Download the export"))
    document = json.loads(text)
    assert ADDRESS["#address_line1"] in text and ADDRESS["#postcode"] in text, document
    assert not contains_pan(text) and CARD.replace(" ", "") not in text

    # The second officer approves, after confirming it is them; the refund goes to Stripe.
    approver = actor()
    sign_in(approver, portal, second, second_secret, lands_on="Back office")
    approver.get_by_role("link", name="Refunds").click()
    waiting = approver.get_by_role("row").filter(has_text=public_id).first
    waiting.get_by_role("link").click()
    approver.get_by_role("button", name="Approve and send to Stripe").click()
    confirm_it_is_me(approver, second_secret)
    approver.get_by_role("button", name="Approve and send to Stripe").click()
    expect(approver.get_by_test_id("refund-status")).to_have_text("Refunded", timeout=OUTCOME_MS)
    expect(approver.get_by_text(f"Approved by {second}")).to_be_visible()

    [refund] = refunds_in_db(portal.app, public_id)
    assert (refund.amount_minor, refund.status) == (AMOUNT_MINOR, "succeeded")
    assert refund.requested_by_id != refund.decided_by_id
    portal.assert_audit_chain_verifies()


def test_the_auditor_signs_in_and_sees_the_audit_trail_verify(portal, actor):
    # Enrolled in two-step verification exactly when the product requires it of auditors
    # (portal.security.authz.mfa_required); sign_in then asks for the code or not.
    username, secret = portal.make_staff("auditor")
    auditor = actor()
    sign_in(auditor, portal, username, secret, lands_on="Back office")
    sections = auditor.get_by_role("navigation", name="Back office sections")
    expect(sections.get_by_role("link", name="Data-subject requests")).to_have_count(0)

    sections.get_by_role("link", name="Audit log").click()
    expect(auditor.get_by_role("heading", name="Audit log")).to_be_visible()
    # "... up to checkpoint N at T" once a verify or `flask audit anchor` has anchored the end.
    expect(auditor.locator(".chain-banner")).to_contain_text(
        re.compile(r"The audit trail verifies( up to checkpoint \d+ at [^.]+)?\.")
    )
    # The log lists the chain's rows. On the deployed stack the sealer (AUDIT_SEAL=worker)
    # links a sign-in's row within about a second; the search waits for it, as a clerk would
    # search again.
    wait_until(lambda: sealed_sign_ins_of(portal, username), OUTCOME_MS / 1000, "sign-in sealed")
    auditor.get_by_label("Who").fill(username)
    auditor.get_by_role("button", name="Search").click()
    expect(auditor.locator("table.audit-log tbody")).to_contain_text("auth.login")


def sealed_sign_ins_of(portal: Portal, username: str) -> int:
    """How many of ``username``'s sign-ins are sealed into the chain (what the log lists)."""
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with portal.app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_label == username, AuditEvent.action == "auth.login")
        )
