"""What a back-office clerk reads: Stripe's raw terms in plain English, identity attempts
labelled by what happened, Stripe's webhook events in words, one time zone everywhere, a way
back from a refusal, and full sentences in errors."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from tests.support.backoffice_write import paid_request, reauth
from tests.support.capture import answer_identity, create_direct, press_start
from tests.support.payments import (
    confirm_in_browser,
    load_payment,
    opened_pay_page,
)
from tests.support.web import login, post_form

#: Stripe's and our own codes a clerk must never have to decode.
RAW_CODES = re.compile(
    r"requires_payment_method|requires payment method|card_declined|insufficient_funds"
    r"|generic_decline|in_progress|payment_intent\.\w+|charge\.[\w.]+"
)


@pytest.fixture
def clerk(pay_app, make_staff):
    client = pay_app.test_client()
    login(client, make_staff("backoffice", mfa=True))
    return client


def words_of(page: str) -> str:
    """The words on the page, without markup."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_a_declined_card_reads_in_plain_english(pay_app, customer, clerk, stripe_sandbox):
    opened_pay_page(customer)
    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclinedInsufficientFunds")
    customer.client.get(customer.pay_path + "/status")

    page = clerk.get(f"/backoffice/transactions/{customer.public_id}")

    assert page.status_code == 200
    words = words_of(page.get_data(as_text=True))
    assert "Visa •••• 9995: declined" in words
    assert "why: there is not enough money available on the card" in words
    assert not RAW_CODES.findall(words)


def test_payment_statuses_read_in_words_on_the_data_and_refund_pages(
    pay_app, customer, make_staff, stripe_sandbox
):
    opened_pay_page(customer)  # a PaymentIntent waiting for a card: requires_payment_method
    officer = pay_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(officer, user)
    assert reauth(officer, user).status_code == 303

    refund_page = words_of(officer.get(f"/backoffice/refunds/new/{customer.public_id}").text)
    data_page = words_of(officer.get(f"/backoffice/data-requests/{customer.public_id}").text)

    assert "Not paid (waiting for the customer's card)" in refund_page
    assert "Payment Waiting for the customer's card" in data_page
    assert "Status Identity confirmed" in data_page
    assert not RAW_CODES.findall(refund_page + data_page)


def test_identity_attempts_are_labelled_by_what_happened(pay_app, make_staff, clerk):
    public_id, url = create_direct(pay_app, make_staff("agent").id)
    customer = pay_app.test_client()
    press_start(customer, url)
    assert answer_identity(customer, url, "N1 9GU").status_code == 400
    assert answer_identity(customer, url, "SW1A 1AA").status_code == 303

    words = words_of(clerk.get(f"/backoffice/transactions/{public_id}").text)

    assert words.count("Wrong answer to the identity question") == 1
    assert words.count("Right answer to the identity question") == 1


def test_refund_times_are_in_the_operators_zone_like_every_other_time(
    pay_app, make_staff, clerk, stripe_sandbox
):
    from portal.extensions import db
    from portal.models.refund import Refund
    from tests.functional.payment_standing_support import payment_id_of

    public_id = paid_request(pay_app, stripe_sandbox, make_staff("agent").id)
    summer = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)  # 13:05 in London (BST)
    officer = make_staff("backoffice")
    with pay_app.app_context():
        db.session.add(
            Refund(
                payment_id=payment_id_of(pay_app, public_id),
                amount_minor=250,
                currency="GBP",
                reason_code="requested_by_customer",
                status="pending_approval",
                requested_by_id=officer.id,
                created_at=summer,
                updated_at=summer,
            )
        )
        db.session.commit()

    words = words_of(clerk.get("/backoffice/refunds").text)

    assert "01 Jul 2026 13:05 UK time" in words
    assert "UTC" not in words


def test_a_refusal_offers_each_person_the_way_home(pay_app, make_staff):
    agent = pay_app.test_client()
    login(agent, make_staff("agent"))
    refused = agent.get("/backoffice/")
    assert refused.status_code == 403
    assert re.search(r'<a href="/"[^>]*>Go to your console</a>', refused.text)
    assert agent.get("/").headers["Location"].endswith("/agent/")

    clerk = pay_app.test_client()
    login(clerk, make_staff("backoffice", mfa=True))
    refused = clerk.get("/agent/")
    assert refused.status_code == 403
    assert re.search(r'<a href="/"[^>]*>Go to the back office home page</a>', refused.text)


def test_a_refusal_without_a_sign_in_offers_the_sign_in_page(pay_app):
    """What any 403 draws for someone not signed in (a customer never sees a 403 page of
    this kind: their refusals are the link's own problem pages)."""
    from portal.errors import render_error

    with pay_app.test_request_context("/backoffice/"):
        page, status = render_error(403)
    assert status == 403 and re.search(r'<a href="/login"[^>]*>Sign in</a>', page)


def test_a_refused_password_reads_as_a_full_sentence(pay_app, make_staff):
    client = pay_app.test_client()
    admin = make_staff("admin", mfa=True)
    login(client, admin)
    assert reauth(client, admin).status_code == 303
    form = {
        "username": "new.officer",
        "display_name": "New Officer",
        "email": "",
        "role": "backoffice",
        "team": "Refunds",
        "password": "password1234",
        "confirm_password": "password1234",
    }

    refused = post_form(client, "/backoffice/staff/new", form)
    taken = post_form(client, "/backoffice/staff/new", {**form, "username": admin.username})

    assert refused.status_code == 400
    assert "common or breached passwords. Choose another." in refused.text
    assert "choose another" not in refused.text
    assert taken.status_code == 400
    assert f"The username '{admin.username}' is taken. Choose another." in words_of(taken.text)
