"""A back office refunding a payment on the production-like stack, for the refund fault tests:
the payment made through the real pages, a re-authenticated back-office member, the refund
forms and buttons, and each refund as our rows, Stripe and the audit trail see it. (Not called
``*_test.py``: pytest would collect it.)
"""

from __future__ import annotations

import html
import re
import secrets
import time

import pyotp
from sqlalchemy import select

from tests.reliability.stack_payments import (
    customer_at_payment,
    intent_on_page,
    pay_in_browser,
    wait_for_webhooks_handled,
)
from tests.reliability.stack_support import pause, resume, sign_in, staff_id
from tests.support.backoffice_write import refunds_in_db
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from

FULL_REFUND = {"scope": "full", "amount": "", "reason_code": "duplicate", "note": "Paid twice"}
_FORM_KEY = re.compile(r'name="form_key" type="hidden" value="([^"]+)"')


class Refunds:
    """The test's view of its one payment: our rows, Stripe's record of calls and refunds, and
    the audit trail, counted from the moment the test began."""

    def __init__(self, stack, public_id: str, intent_id: str):
        self.stack, self.public_id, self.intent_id = stack, public_id, intent_id
        self.paused = False
        self._calls_before = len(stack.sandbox.requests("POST", "/v1/refunds"))

    def calls(self) -> list[dict]:
        """Every POST /v1/refunds Stripe received since (refused and replayed ones too)."""
        return self.stack.sandbox.requests("POST", "/v1/refunds")[self._calls_before :]

    def made(self) -> list[dict]:
        """The calls Stripe carried out (answered or not), not replays."""
        return [call for call in self.calls() if call["status"] == 200 and not call["replayed"]]

    def at_stripe(self) -> list[dict]:
        """Stripe's refunds of the payment, from its store (an API read would meet faults)."""
        store = self.stack.sandbox.sandbox.store
        with store.lock:
            return [
                dict(refund)
                for refund in store.refunds.values()
                if refund.get("payment_intent") == self.intent_id
            ]

    def rows(self) -> list:
        return refunds_in_db(self.stack.app(), self.public_id)

    def audit(self) -> list[tuple]:
        """(action, actor id, outcome, details) of the payment's refund.* rows, in order: sealed
        into the chain or still pending (the stack's sealer links them within about a second)."""
        from portal.audit.trail import in_order, trail
        from portal.extensions import db

        with self.stack.app().app_context():
            audited = trail()
            rows = db.session.execute(
                select(audited.c.action, audited.c.actor_id, audited.c.outcome, audited.c.details)
                .where(
                    audited.c.target_id == self.public_id,
                    audited.c.action.startswith("refund."),
                )
                .order_by(*in_order(audited))
            ).all()
            db.session.remove()
        return [tuple(row) for row in rows]

    def assert_one_refund_everywhere(self):
        """Exactly one refund at Stripe and one row of ours, linked, succeeded, for the full
        amount; every POST /v1/refunds carried that row's key. Returns the row."""
        [refund] = self.rows()
        [made] = self.at_stripe()
        assert len(self.made()) == 1
        assert (refund.status, refund.amount_minor, refund.currency) == (
            "succeeded",
            made["amount"],
            "GBP",
        )
        assert refund.stripe_refund_id == made["id"] and refund.last_error_code is None
        assert made["metadata"]["postern_refund"] == str(refund.id)
        keys = {call["idempotency_key"] for call in self.calls()}
        assert keys == {refund.idempotency_key}, keys
        return refund

    def settle(self) -> int:
        """Start the webhook worker again and let it handle Stripe's refund events: still one
        refund, no new audit row. Returns the refunds beyond one (0)."""
        audit = self.audit()
        resume(self.stack, "webhooks-worker")
        self.paused = False
        wait_for_webhooks_handled(self.stack)
        assert self.audit() == audit
        return len(self.rows()) - 1 + len(self.at_stripe()) - 1


def paid_by_customer(stack, agent_id: int, amount_minor: int) -> Refunds:
    """A payment of ``amount_minor`` a customer made through the real pages (Visa 4242), as the
    payment page learns it; then, once its webhooks are handled, the webhook worker is paused
    (``Refunds.settle`` lets it go on)."""
    customer = customer_at_payment(stack, agent_id, amount_minor=amount_minor)
    page = customer.session.get(customer.pay_url, timeout=60)
    intent_id, client_secret = intent_on_page(page.text)
    assert pay_in_browser(stack, client_secret)["status"] == "succeeded"
    status = customer.session.get(customer.pay_url + "/status", timeout=30).json()
    assert status["state"] == "succeeded", status
    wait_for_webhooks_handled(stack)
    pause(stack, "webhooks-worker")
    refunds = Refunds(stack, customer.public_id, intent_id)
    refunds.paused = True
    return refunds


def officer_of(stack):
    """A back-office member signed in with password and TOTP, then re-authenticated (refunds
    ask for it within five minutes), with the next step's code (a code counts once)."""
    username = f"officer.{secrets.token_hex(3)}"
    secret = stack.add_staff("backoffice", username, DEFAULT_PASSWORD, mfa=True)
    session = sign_in(stack, username, secret)
    page = session.get(stack.url + "/backoffice/reauth", timeout=30)
    totp = pyotp.TOTP(secret)
    answer = session.post(
        stack.url + "/backoffice/reauth",
        data={
            "password": DEFAULT_PASSWORD,
            "code": totp.at(time.time() + totp.interval),
            "csrf_token": csrf_from(page.text),
        },
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    return session, staff_id(stack, username)


def refund_form(stack, session, public_id: str) -> dict:
    """The refund page's hidden fields: the CSRF token and the form's one-time key."""
    page = session.get(f"{stack.url}/backoffice/refunds/new/{public_id}", timeout=30)
    key = _FORM_KEY.search(page.text)
    return {
        "csrf_token": csrf_from(page.text),
        "form_key": key.group(1) if key else secrets.token_urlsafe(16),
    }


def ask_full_refund(stack, session, public_id: str, form: dict | None = None):
    return session.post(
        f"{stack.url}/backoffice/refunds/new/{public_id}",
        data={**FULL_REFUND, **(form or refund_form(stack, session, public_id))},
        allow_redirects=False,
        timeout=90,
    )


def press(stack, session, refund_id: int, action: str):
    """Press "Try again" (``retry``) or "Approve" (``approve``) on the refund's page."""
    page = session.get(f"{stack.url}/backoffice/refunds/{refund_id}", timeout=30)
    return session.post(
        f"{stack.url}/backoffice/refunds/{refund_id}/{action}",
        data={"csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=90,
    )


def page_after(stack, session, answer) -> str:
    """The page a 303 leads to, as the staff member reads it (flash messages included)."""
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    location = answer.headers["Location"]
    target = location if location.startswith("http") else stack.url + location
    return html.unescape(session.get(target, timeout=30).text)
