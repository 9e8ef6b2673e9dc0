"""Receipts and refund notices, against the Stripe sandbox and the real outbox worker.

A request whose link went by email gets one receipt when it is paid, however often the success
is learned (the page's poll, Stripe's return, the webhook, reconcile), and one notice per
succeeded refund; a request whose link went by text message gets neither. The worker sends
them like any link, through a real SMTP server (aiosmtpd) when SMTP is configured. A reopened
paid link shows the receipt on its own device only (elsewhere: paid, and whether a receipt was
emailed), and never offers to pay again.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from tests.support.backoffice_write import ask_refund, audit_rows, reauth, refunds_in_db
from tests.support.capture import count_audit, path_of, update_request
from tests.support.database import needs_postgres
from tests.support.delivery import smtp_config, smtp_server
from tests.support.loopback import free_port
from tests.support.payments import (
    confirm_in_browser,
    customer_at_payment,
    event_of_type,
    load_payment,
    received,
    sandbox_settings,
    wait_for,
)
from tests.support.web import csrf_from, login

EMAIL = "Jane.Customer@Example.com"
NORMALISED = "Jane.Customer@example.com"
REFUND = {"scope": "full", "amount": "", "reason_code": "requested_by_customer", "note": "Asked"}


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def run_outbox(app) -> dict:
    """``flask outbox run-once``: send everything due now."""
    from portal.delivery import worker

    with app.app_context():
        return worker.run_once().as_dict()


def notices(app, kind: str) -> list:
    """The outbox's messages of ``kind`` ("receipt" or "refund_notice"), detached."""
    from portal.extensions import db
    from portal.models.delivery import DeliveryMessage

    with app.app_context():
        rows = list(
            db.session.execute(
                select(DeliveryMessage)
                .where(DeliveryMessage.customer_notice == kind)
                .order_by(DeliveryMessage.id)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def rendered(app, message_id: int):
    from portal.delivery.receipts import render_notice
    from portal.extensions import db
    from portal.models.delivery import DeliveryMessage

    with app.app_context():
        return render_notice(db.session.get(DeliveryMessage, message_id))


def pay(app, sandbox, customer) -> str:
    """The customer opens the payment page and pays with Visa 4242; the page's poll learns it.
    Returns the PaymentIntent's id."""
    assert customer.client.get(customer.pay_path).status_code == 200
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(sandbox, intent_id, "pm_card_visa")
    status = customer.client.get(customer.pay_path + "/status").get_json()
    assert status["state"] == "succeeded", status
    return intent_id


def emailed_customer(app, agent_id: int, **spec):
    """A customer whose link went by email (sent by the outbox worker), now at the payment step."""
    customer = customer_at_payment(app, agent_id, channel="email", destination=EMAIL, **spec)
    assert run_outbox(app)["sent"] == 1
    return customer


def test_a_paid_request_queues_one_receipt_however_often_success_is_learned(
    pay_app, stripe_sandbox, agent, make_staff
):
    customer = emailed_customer(pay_app, agent.id)
    intent_id = pay(pay_app, stripe_sandbox, customer)  # learned once: the page's poll

    # ... and again: Stripe's return, the webhook, reconcile.
    back = customer.client.get(customer.pay_path + "/return")
    assert back.status_code == 303 and back.headers["Location"].endswith("/paid")
    event = event_of_type(stripe_sandbox, intent_id, "payment_intent.succeeded")
    assert received(pay_app.test_client(), pay_app, event) == "applied"
    reconciled = pay_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert reconciled.exit_code == 0, reconciled.output

    [receipt] = notices(pay_app, "receipt")
    assert (receipt.status, receipt.channel, receipt.destination) == ("queued", "email", NORMALISED)
    assert receipt.notice_key == f"receipt:{receipt.payment_id}" and receipt.sealed_link is None
    assert count_audit(pay_app, "receipt.queued", customer.public_id) == 1
    [queued] = audit_rows(pay_app, "receipt.queued")
    assert queued.details["payment_intent"] == intent_id
    assert NORMALISED.lower() not in str(queued.details).lower()  # no address in the audit

    assert run_outbox(pay_app) == {
        "claimed": 1,
        "sent": 1,
        "retrying": 0,
        "failed": 0,
        "cancelled": 0,
    }
    [receipt] = notices(pay_app, "receipt")
    assert receipt.status == "sent"
    assert count_audit(pay_app, "receipt.sent", customer.public_id) == 1
    # A receipt is not a link: it neither counts as one delivered nor shows among the links.
    assert count_audit(pay_app, "delivery.sent", customer.public_id) == 1
    from portal.delivery.outbox import delivery_summary
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with pay_app.app_context():
        request = db.session.execute(
            select(CaptureRequest).where(CaptureRequest.public_id == customer.public_id)
        ).scalar_one()
        assert [m["channel"] for m in delivery_summary(request.id)] == ["email"]
        assert len(request.delivery_messages) == 1

    # The development outbox shows it as the customer receives it.
    staff_client = pay_app.test_client()
    login(staff_client, make_staff("agent"))
    page = staff_client.get("/dev/outbox").get_data(as_text=True)
    assert "Receipt after a payment" in page
    assert "Postern Demo Ltd: your receipt for £12.50" in page
    for fact in ("Gas bill for March", "ACC-1001", "Visa ending 4242", "UK time"):
        assert fact in page
    html_body = staff_client.get(f"/dev/outbox/{receipt.id}/html")
    assert html_body.status_code == 200 and "Visa ending 4242" in html_body.get_data(as_text=True)


def test_learning_the_success_again_in_one_transaction_queues_nothing_more(
    pay_app, stripe_sandbox, agent
):
    """The same success learned again (one process, one transaction): ``queue_receipt`` finds
    the key already there and adds nothing, twice over."""
    from portal.audit import STRIPE_WEBHOOK
    from portal.delivery.receipts import queue_receipt
    from portal.extensions import db
    from portal.models.payment import Payment

    customer = emailed_customer(pay_app, agent.id)
    pay(pay_app, stripe_sandbox, customer)
    payment_id = load_payment(pay_app, customer.public_id)[1].id

    with pay_app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert queue_receipt(payment, STRIPE_WEBHOOK) is None
        assert queue_receipt(payment, STRIPE_WEBHOOK) is None
        db.session.commit()
    assert len(notices(pay_app, "receipt")) == 1
    assert count_audit(pay_app, "receipt.queued", customer.public_id) == 1


def _waiting_on_a_lock(app) -> bool:
    """Whether some other connection to the test database is waiting on a row lock. A fresh
    connection (and so a fresh statistics snapshot) each time."""
    from portal.extensions import db

    with app.app_context(), db.engine.connect() as probe:
        return bool(
            probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


@needs_postgres("two transactions inserting one notice key at once (SQLite has one writer)")
def test_two_processes_queuing_the_same_receipt_at_once_queue_it_once(app, agent):
    """Two workers learn the same success at the same moment, each in its own transaction: the
    second's insert waits on the first's uncommitted row, then finds the key taken and adds
    nothing (no read-then-write window). One message, one audit row."""
    from portal.audit import STRIPE_WEBHOOK, SYSTEM
    from portal.delivery import outbox
    from portal.delivery.receipts import queue_receipt
    from portal.extensions import db
    from portal.models.payment import Payment
    from tests.support.capture import make_capture_request

    with app.app_context():
        request, url = make_capture_request(agent.id, purpose="Gas bill for March")
        outbox.queue_link_message(request, url, "email", EMAIL, SYSTEM).status = "sent"
        payment = Payment(
            capture_request_id=request.id,
            amount_minor=1250,
            currency="GBP",
            status="succeeded",
            card_brand="visa",
            card_last4="4242",
        )
        db.session.add(payment)
        db.session.commit()
        payment_id, public_id = payment.id, request.public_id

    first_inserted = threading.Event()
    results, failures = {}, []

    def first():
        try:
            with app.app_context():
                results["first"] = queue_receipt(db.session.get(Payment, payment_id), SYSTEM)
                first_inserted.set()
                # Hold the transaction open until the second is blocked on our row.
                wait_for(lambda: _waiting_on_a_lock(app), timeout=20)
                db.session.commit()
                db.session.remove()
        except Exception as problem:  # noqa: BLE001  (reported by the assertion below)
            first_inserted.set()
            failures.append(f"first: {problem!r}")

    def second():
        try:
            with app.app_context():
                assert first_inserted.wait(timeout=20)
                payment = db.session.get(Payment, payment_id)
                results["second"] = queue_receipt(payment, STRIPE_WEBHOOK)
                db.session.commit()
                db.session.remove()
        except Exception as problem:  # noqa: BLE001  (reported by the assertion below)
            failures.append(f"second: {problem!r}")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)

    assert isinstance(results["first"], int) and results["second"] is None
    [receipt] = notices(app, "receipt")
    assert receipt.id == results["first"] and receipt.destination == NORMALISED
    assert count_audit(app, "receipt.queued", public_id) == 1


def test_a_unique_key_refuses_a_second_receipt_row(pay_app, stripe_sandbox, agent):
    """The database itself refuses a second message with the same notice key."""
    from sqlalchemy.exc import IntegrityError

    from portal.delivery.outbox import add_queued_message
    from portal.extensions import db

    customer = emailed_customer(pay_app, agent.id)
    pay(pay_app, stripe_sandbox, customer)
    [receipt] = notices(pay_app, "receipt")
    with pay_app.app_context():
        add_queued_message(
            "email",
            "dev",
            NORMALISED,
            capture_request_id=receipt.capture_request_id,
            customer_notice="receipt",
            notice_key=receipt.notice_key,
            payment_id=receipt.payment_id,
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_a_link_sent_by_text_message_gets_no_receipt(pay_app, stripe_sandbox, agent):
    customer = customer_at_payment(pay_app, agent.id, channel="sms", destination="07700 900123")
    assert run_outbox(pay_app)["sent"] == 1
    pay(pay_app, stripe_sandbox, customer)

    assert notices(pay_app, "receipt") == []
    assert count_audit(pay_app, "receipt.queued", customer.public_id) == 0
    assert run_outbox(pay_app)["claimed"] == 0


def test_a_copied_link_gets_no_receipt(pay_app, stripe_sandbox, agent):
    customer = customer_at_payment(pay_app, agent.id)  # the agent copied the link
    pay(pay_app, stripe_sandbox, customer)
    assert notices(pay_app, "receipt") == []


@pytest.fixture
def officer(pay_app, make_staff):
    """A back-office user, signed in (password + TOTP) and re-authenticated."""
    client = pay_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    return client


def test_each_succeeded_refund_queues_one_notice(pay_app, stripe_sandbox, agent, officer):
    customer = emailed_customer(pay_app, agent.id)
    pay(pay_app, stripe_sandbox, customer)
    partial = {**REFUND, "scope": "partial", "amount": "5.00"}
    assert ask_refund(officer, customer.public_id, partial).status_code == 303
    assert ask_refund(officer, customer.public_id, REFUND).status_code == 303
    assert [r.status for r in refunds_in_db(pay_app, customer.public_id)] == [
        "succeeded",
        "succeeded",
    ]
    # Stripe tells us again by webhook: still one notice per refund.
    from tests.support.payments import stripe_api

    for event in stripe_api(stripe_sandbox, "GET", "/v1/events?type=charge.refunded")["data"]:
        assert received(pay_app.test_client(), pay_app, event) in ("applied", "not_ours")

    first, second = notices(pay_app, "refund_notice")
    assert (first.destination, second.destination) == (NORMALISED, NORMALISED)
    assert count_audit(pay_app, "refund_notice.queued", customer.public_id) == 2
    words = rendered(pay_app, first.id)
    assert words.subject == "Postern Demo Ltd: your refund of £5.00"
    for fact in (
        "Amount refunded: £5.00",
        "Refunded to: Visa ending 4242",
        "Reference: ACC-1001",
        "usually within 5 to 10 working days",
    ):
        assert fact in words.text_body
    assert "Amount refunded: £7.50" in rendered(pay_app, second.id).text_body
    assert "/c/" not in words.text_body and words.link_url == ""

    assert run_outbox(pay_app)["sent"] == 3  # the receipt and both notices
    assert count_audit(pay_app, "refund_notice.sent", customer.public_id) == 2


def test_receipt_and_refund_notice_arrive_through_real_smtp(
    app_factory, stripe_sandbox, agent, make_staff
):
    port = free_port()
    app = app_factory(**sandbox_settings(stripe_sandbox), **smtp_config(port))
    controller, inbox = smtp_server(port)
    controller.start()
    try:
        customer = emailed_customer(app, agent.id)  # the link itself, by SMTP
        pay(app, stripe_sandbox, customer)
        assert run_outbox(app)["sent"] == 1
        client = app.test_client()
        user = make_staff("backoffice", mfa=True)
        login(client, user)
        assert reauth(client, user).status_code == 303
        assert ask_refund(client, customer.public_id, REFUND).status_code == 303
        assert run_outbox(app)["sent"] == 1
        assert run_outbox(app)["claimed"] == 0  # nothing is sent twice
    finally:
        controller.stop()

    link_email, receipt, notice = inbox.messages
    assert [rcpt for _, rcpt in inbox.envelopes] == [[NORMALISED]] * 3
    assert receipt["Subject"] == "Postern Demo Ltd: your receipt for £12.50"
    assert receipt.get_content_type() == "multipart/alternative"
    text, html = receipt.iter_parts()
    body = text.get_content()
    for fact in (
        "This is your receipt from Postern Demo Ltd",
        "Amount paid: £12.50",
        "For: Gas bill for March",
        "Reference: ACC-1001",
        "Paid with: Visa ending 4242",
        f"Payment number: {customer.public_id}",
        "UK time",
    ):
        assert fact in body
    assert "/c/" not in body and "/c/" not in html.get_content()  # a receipt carries no link
    assert "Visa ending 4242" in html.get_content()
    assert notice["Subject"] == "Postern Demo Ltd: your refund of £12.50"
    assert "usually within 5 to 10 working days" in notice.get_body(("plain",)).get_content()


RECEIPT_FACTS = ("£12.50", "Gas bill for March", "ACC-1001", "Visa ending 4242", "4242")


def assert_paid_without_details(text: str, public_id: str) -> None:
    """The page anyone but the link's own device gets for a paid request: paid, nothing to pay,
    and nothing about the request itself."""
    assert "Payment received" in text and "There is nothing more to pay." in text
    for never in (*RECEIPT_FACTS, public_id, "UK time", "Your receipt"):
        assert never not in text
    for never in ("new link", "Continue to payment", "/pay", "another device"):
        assert never not in text
    assert "Jane" not in text and "example.com" not in text


def test_a_reopened_paid_link_shows_the_receipt_only_on_its_own_device(
    pay_app, stripe_sandbox, agent, officer
):
    customer = emailed_customer(pay_app, agent.id)
    link = path_of(customer.url)
    stale = pay_app.test_client()  # a landing page loaded before the payment, pressed after
    stale_token = csrf_from(stale.get(link).get_data(as_text=True))
    pay(pay_app, stripe_sandbox, customer)

    # The device the link is bound to: the full receipt.
    landing = customer.client.get(link)
    assert landing.status_code == 303 and landing.headers["Location"].endswith("/receipt")
    page = customer.client.get(link + "/receipt")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Your receipt" in text
    for fact in (*RECEIPT_FACTS, "UK time", customer.public_id):
        assert fact in text
    for never in ("new link", "Continue to payment", "/pay", "another device"):
        assert never not in text
    # Nothing beyond what the receipt email says: no address, no agent, no readback code.
    assert "Jane" not in text and "example.com" not in text
    assert agent.username not in text and "Your code is" not in text
    assert page.headers["Cache-Control"] == "no-store"

    # Anyone else holding the link: paid, and where the receipt went, but none of it.
    other = pay_app.test_client()
    landing = other.get(link)
    assert landing.status_code == 303 and landing.headers["Location"].endswith("/receipt")
    page = other.get(link + "/receipt")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert_paid_without_details(text, customer.public_id)
    assert "We sent a receipt by email." in text

    # Start pressed on a landing page loaded before the payment: still no details.
    pressed = stale.post(link + "/start", data={"csrf_token": stale_token})
    assert pressed.status_code == 303 and pressed.headers["Location"].endswith("/receipt")
    assert_paid_without_details(
        stale.get(link + "/receipt").get_data(as_text=True), customer.public_id
    )

    assert ask_refund(officer, customer.public_id, REFUND).status_code == 303
    refunded = customer.client.get(link + "/receipt").get_data(as_text=True)
    assert "Payment refunded" in refunded and "Refunded" in refunded
    assert "refunded in full" in refunded
    assert "refunded" not in pay_app.test_client().get(link + "/receipt").get_data(as_text=True)


def test_a_paid_link_with_no_emailed_receipt_does_not_claim_one(pay_app, stripe_sandbox, agent):
    customer = customer_at_payment(pay_app, agent.id)  # the agent copied the link
    pay(pay_app, stripe_sandbox, customer)
    text = pay_app.test_client().get(path_of(customer.url) + "/receipt").get_data(as_text=True)
    assert_paid_without_details(text, customer.public_id)
    assert "We sent a receipt by email" not in text
    assert "We did not email a receipt for this payment." in text


def test_a_revoked_paid_request_shows_no_details_even_on_its_own_device(
    pay_app, stripe_sandbox, agent
):
    """A revoked request's link shows no receipt anywhere; if it was paid, it still never asks
    for a new link or offers to pay. The service refuses to revoke a request once payment is
    under way, so the row is set as a repair by hand (or a future path) would leave it."""
    customer = emailed_customer(pay_app, agent.id)
    pay(pay_app, stripe_sandbox, customer)
    link = path_of(customer.url)
    update_request(pay_app, customer.public_id, status="revoked")

    for client in (customer.client, pay_app.test_client()):
        landing = client.get(link)
        assert landing.status_code == 303 and landing.headers["Location"].endswith("/receipt")
        page = client.get(link + "/receipt")
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert_paid_without_details(text, customer.public_id)
        assert "We sent a receipt by email." in text
        assert "cancelled" not in text
        # Any other page of the link says the same, never "ask for a new link".
        later = client.get(link + "/summary")
        assert later.status_code == 200
        assert_paid_without_details(later.get_data(as_text=True), customer.public_id)


def test_a_payment_lost_to_a_dispute_says_the_bank_reversed_it(pay_app, stripe_sandbox, agent):
    """A dispute the cardholder won: the receipt page never says "has gone through" and shows
    no figure beyond the amount."""
    from portal.extensions import db
    from portal.models.dispute import Dispute

    customer = emailed_customer(pay_app, agent.id)
    pay(pay_app, stripe_sandbox, customer)
    link = path_of(customer.url)
    payment = load_payment(pay_app, customer.public_id)[1]
    with pay_app.app_context():
        # As portal.disputes.sync records a charge.dispute.closed whose status is "lost".
        db.session.add(
            Dispute(
                payment_id=payment.id,
                stripe_dispute_id="dp_lost_1",
                stripe_charge_id="ch_lost_1",
                amount_minor=1250,
                currency="GBP",
                reason="fraudulent",
                status="lost",
                funds_withdrawn_minor=1250,
            )
        )
        db.session.commit()

    text = customer.client.get(link + "/receipt").get_data(as_text=True)
    assert "Payment reversed" in text
    assert "Your bank reversed this payment of £12.50" in text
    assert "has gone through" not in text and "nothing more to pay" not in text
    assert "Refund" not in text
    # Another device learns nothing of the dispute: the same page as any paid link elsewhere.
    elsewhere = pay_app.test_client().get(link + "/receipt").get_data(as_text=True)
    assert "reversed" not in elsewhere and "£12.50" not in elsewhere
    assert "Payment received" in elsewhere and "nothing more to pay" in elsewhere


def test_the_receipt_page_of_an_unpaid_link_goes_back_to_the_landing_page(
    pay_app, stripe_sandbox, agent
):
    customer = customer_at_payment(pay_app, agent.id)
    answer = pay_app.test_client().get(path_of(customer.url) + "/receipt")
    assert answer.status_code == 303 and answer.headers["Location"].endswith(path_of(customer.url))
    # The bound device, mid-payment, carries on to pay as before.
    assert customer.client.get(path_of(customer.url) + "/summary").status_code == 200
    from portal.extensions import db
    from portal.models.delivery import DeliveryMessage

    with pay_app.app_context():
        assert db.session.execute(select(func.count(DeliveryMessage.id))).scalar_one() == 0


def test_a_paid_link_past_its_lifetime_says_paid_and_shows_no_details(
    pay_app, stripe_sandbox, agent
):
    """Past the link's lifetime (its signature is older than CAPTURE_MAX_EXPIRY_MINUTES) a paid
    link still never asks for a new link or offers to pay; it no longer shows the details."""
    from itsdangerous import TimestampSigner

    from portal.capture import links

    class OldClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 61 * 60

    customer = emailed_customer(pay_app, agent.id)
    unpaid = customer_at_payment(pay_app, agent.id)
    pay(pay_app, stripe_sandbox, customer)

    def signed_an_hour_ago(url: str) -> str:
        with pay_app.app_context():
            claim = links.read_token(path_of(url).rsplit("/", 1)[1])
            return links.serializer(signer=OldClock).dumps([claim.public_id, claim.nonce])

    answer = pay_app.test_client().get(f"/c/{signed_an_hour_ago(customer.url)}")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Payment received" in text
    assert "There is nothing more to pay." in text
    assert "We sent a receipt by email." in text  # the address it went to is never shown
    assert "example.com" not in text.lower()
    for never in ("new link", "£12.50", "ACC-1001", "4242", "Gas bill", customer.public_id):
        assert never not in text
    # An unpaid link past its lifetime is expired, as before.
    old = pay_app.test_client().get(f"/c/{signed_an_hour_ago(unpaid.url)}")
    assert old.status_code == 410 and "This link has expired" in old.get_data(as_text=True)
