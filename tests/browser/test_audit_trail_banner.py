"""The audit log's banner in Chromium: "verifies up to checkpoint N at T" once the chain is
anchored, and a plain alert when the newest rows have since been deleted; both checked by
axe-core, under the strict CSP as served."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select, text

from tests.browser.axe import AxeAudit
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, base: str, user) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(pyotp.TOTP(user.totp_secret).now())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Back office")).to_be_visible()


def test_the_banner_names_the_checkpoint_and_then_the_truncation(
    app, live_server, page, make_staff
):
    from portal import audit as trail
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    user = make_staff("auditor", mfa=True)
    base, audit = live_server.url, AxeAudit()
    sign_in(page, base, user)
    with app.app_context():
        for n in range(6):
            trail.record("test.event", details={"n": n}, actor=trail.SYSTEM)
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    with app.app_context():
        head = db.session.scalar(select(func.max(AuditEvent.seq)))
    assert head >= 5

    page.goto(base + "/backoffice/audit")
    expect(
        page.get_by_role("status").filter(
            has_text=re.compile(rf"The audit trail verifies up to checkpoint {head} at \S")
        )
    ).to_be_visible()
    audit.check(page, "audit log, anchored")

    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        connection.execute(text("DELETE FROM audit_events WHERE seq > :kept"), {"kept": head - 5})

    page.goto(base + "/backoffice/audit")
    alert = page.get_by_role("alert").filter(has_text="The newest audit rows were deleted.")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(
        f"The trail now ends at row {head - 5}, but it had already reached row {head} at"
    )
    expect(alert).to_contain_text("5 or more rows are missing")
    audit.check(page, "audit log, truncated")
    audit.assert_clean()
