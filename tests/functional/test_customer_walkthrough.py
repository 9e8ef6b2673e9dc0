"""What a customer on a phone meets, step by step: a request for details then a payment says
which step is which and confirms the details before asking for money; saying no to the details
is asked about first, on a page of its own; every page's title names the organisation; the
browser's icon is there."""

from __future__ import annotations

import re

import pytest

from tests.support.capture import audit_actions, create_direct, path_of
from tests.support.customer_details import ADDRESS, BOTH_SPEC, DATA_SPEC, Customer, submission_of
from tests.support.payments import confirm_in_browser, load_payment
from tests.support.web import csrf_from

ORG = "Postern Demo Ltd"


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def title_of(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def paragraphs(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", p).strip() for p in re.findall(r"<p>(.*?)</p>", html, re.S)]


def test_details_then_payment_says_which_step_is_which(pay_app, agent):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)

    summary = customer.get("/summary").text
    # One sentence, in the order the steps come, where there were two "next steps".
    assert "The next step is" not in summary
    assert "<h2>Next steps</h2>" in summary
    assert "First you enter the details listed above, then you pay by card" in summary
    assert "Step 1 of 2: your details" in customer.get("/details").text

    sent = customer.send(ADDRESS)
    assert sent.headers["Location"].endswith("/details/done")
    received = customer.get("/details/done").text
    assert "<h1>Details received</h1>" in received
    assert "Step 2 of 2: payment" in received
    assert re.search(r'<a class="button[^"]*" href="[^"]+/pay">Continue to payment</a>', received)

    pay = customer.get("/pay")
    assert pay.status_code == 200 and "Step 2 of 2: payment" in pay.text


def test_paid_first_the_summary_names_only_the_details_left(pay_app, agent, stripe_sandbox):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    customer.get("/pay")
    _, payment = load_payment(pay_app, customer.public_id)
    confirm_in_browser(stripe_sandbox, payment.stripe_payment_intent_id, "pm_card_visa")
    assert customer.get("/pay/status").get_json()["state"] == "succeeded"

    summary = customer.get("/summary").text

    assert "The next step is to enter the details listed above" in summary
    assert "then you pay by card" not in summary


@pytest.mark.parametrize(
    ("spec", "one_sentence"),
    [
        ({}, "The next step is to pay by card on a secure page."),
        (DATA_SPEC, "The next step is to enter the details listed above on a secure page"),
    ],
)
def test_a_single_step_request_has_no_step_numbers(pay_app, agent, spec, one_sentence):
    customer = Customer(pay_app, agent.id, **spec)
    summary = customer.get("/summary").text
    assert sum(one_sentence in p for p in paragraphs(summary)) == 1
    assert "The next step is" in summary and summary.count("The next step is") == 1
    if spec:
        assert "Step 1 of 2" not in customer.get("/details").text
    else:
        assert "Step 2 of 2" not in customer.get("/pay").text


def test_saying_no_to_the_details_is_asked_about_first(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    form = customer.get("/details").text
    # "I do not want to give these details" is a link to a question, not a one-tap POST.
    link = re.search(r'<a class="button button-secondary" href="([^"]+)">I do not want', form)
    assert link and link.group(1) == customer.details + "/decline"

    question = customer.get("/details/decline")
    assert question.status_code == 200
    assert "<h1>Are you sure you do not want to give these details?</h1>" in question.text
    assert "Yes, I do not want to give them" in question.text
    assert f'<a href="{customer.details}">Go back</a>' in question.text
    assert customer.row().status == "verified" and submission_of(app, customer.public_id) is None

    confirmed = customer.client.post(
        customer.details + "/decline", data={"csrf_token": csrf_from(question.text)}
    )

    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/done")
    assert customer.row().status == "declined"
    assert audit_actions(app, customer.public_id)[-2:] == ["capture.declined", "data.declined"]


def test_an_old_page_posting_decline_is_asked_too_and_nothing_is_recorded(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    page = customer.get("/details").text
    posted = customer.client.post(
        customer.details, data={"decision": "decline", "csrf_token": csrf_from(page)}
    )
    assert posted.status_code == 303 and posted.headers["Location"].endswith("/details/decline")
    assert customer.row().status == "verified" and submission_of(app, customer.public_id) is None


def test_the_question_needs_csrf_and_says_what_happens_to_a_payment(pay_app, agent):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    question = customer.get("/details/decline").text
    assert "No payment will be taken." in question

    refused = customer.client.post(customer.details + "/decline", data={})

    assert refused.status_code == 400
    assert customer.row().status == "verified"


def test_customer_pages_are_titled_with_the_organisation(pay_app, agent):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    for suffix in ("/summary", "/details", "/details/decline", "/pay"):
        title = title_of(customer.get(suffix).text)
        assert title.endswith(f" · {ORG}") and "Postern ·" not in title, (suffix, title)
    _, url = create_direct(pay_app, agent.id)
    landing = pay_app.test_client().get(path_of(url)).text
    assert title_of(landing) == f"Secure link · {ORG}"
    # Staff pages keep the product's name.
    assert title_of(pay_app.test_client().get("/login").text).endswith(" · Postern")


def test_a_favicon_is_served_and_linked(app):
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype in ("image/x-icon", "image/vnd.microsoft.icon")
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert "max-age" in icon.headers.get("Cache-Control", "")
    assert '<link rel="icon" href="/favicon.ico">' in client.get("/login").text


def test_the_favicon_comes_from_the_setting(app_factory, tmp_path):
    own = tmp_path / "ours.png"
    own.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    icon = app_factory(FAVICON_FILE=str(own)).test_client().get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/png"
    assert icon.data == own.read_bytes()
