"""The customer's personal-data step in the real journey (/c/<token>/details): the notice before
the form, errors that keep what was typed, sending, declining, what it does to the request's
status, what the agent sees (never a value), and the payment-and-details ("both") order."""

from __future__ import annotations

import logging
import re

import pytest

from tests.support.capture import audit_actions, create_direct, expire, path_of, press_start
from tests.support.customer_details import ADDRESS, BOTH_SPEC, DATA_SPEC, Customer, submission_of
from tests.support.logs import logged_text
from tests.support.payments import confirm_in_browser, load_payment, sandbox_settings, stripe_api
from tests.support.web import csrf_from, login


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def test_the_summary_continues_to_the_details_step(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    summary = customer.get("/summary").get_data(as_text=True)
    assert f'href="{customer.details}"' in summary
    assert ">Continue<" in summary


def test_the_page_says_who_why_how_long_before_any_field(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    response = customer.get()
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.index("Before you start") < html.index('id="address_line1"')
    assert app.config["ORG_NAME"] in html
    assert "Update the address on policy HX-20931" in html  # the request's own purpose
    assert "We keep these details for 30 days" in html
    assert f'href="{app.config["PRIVACY_NOTICE_URL"]}"' in html
    assert f"version {app.config['PRIVACY_NOTICE_VERSION']}" in html
    assert "I do not want to give these details" in html
    assert response.headers["Cache-Control"] == "no-store"
    # A plain form: no script of any kind on the page.
    assert "<script" not in html


def test_errors_are_summarised_announced_and_keep_what_was_typed(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    response = customer.send({**ADDRESS, "town": "", "postcode": "ZE2 9Q"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    summary = re.search(r'<div class="error-summary"([^>]*)>', html)
    assert summary and 'role="alert"' in summary.group(1)
    assert '<a href="#town">Enter town or city</a>' in html
    assert "Enter a real postcode" in html
    assert 'value="17 Quillfeather Mews"' in html and 'value="ZE2 9Q"' in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="postcode-error"' in html
    assert "<title>Error: " in html
    assert customer.row().status == "verified" and submission_of(app, customer.public_id) is None


def test_a_card_number_is_refused_in_any_field(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    response = customer.send({**ADDRESS, "address_line1": "4242 4242 4242 4242"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "card number" in html
    assert "4242 4242 4242 4242" not in html
    assert submission_of(app, customer.public_id) is None


def test_sending_completes_a_data_request_with_a_reference(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    response = customer.send(ADDRESS)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(customer.details + "/done")

    done = customer.get("/details/done")
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Details received" in html
    assert customer.public_id in html and "Quote your reference" in html
    assert "Quillfeather" not in html  # never shown back
    row = customer.row()
    assert row.status == "succeeded" and row.finished_at is not None
    submission = submission_of(app, customer.public_id)
    assert submission.submitted_at and submission.declined_at is None
    assert submission.privacy_notice_version == app.config["PRIVACY_NOTICE_VERSION"]
    assert submission.fields_received == ["address_line1", "town", "postcode"]
    actions = audit_actions(app, customer.public_id)
    assert actions[-3:] == ["capture.in_progress", "data.submitted", "capture.succeeded"]
    # The step is over: the form is not offered again, the summary says it is complete.
    assert customer.get().headers["Location"].endswith("/details/done")
    assert "This request is complete" in customer.get("/summary").get_data(as_text=True)


def test_a_second_submission_changes_nothing(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    page = customer.get().get_data(as_text=True)
    form = {**ADDRESS, "decision": "send", "csrf_token": csrf_from(page)}
    first = customer.client.post(customer.details, data=form)
    second = customer.client.post(customer.details, data={**form, "town": "Elsewhere"})
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"].endswith("/details/done")
    assert audit_actions(app, customer.public_id).count("data.submitted") == 1


def test_declining_ends_a_data_request(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    response = customer.decline()
    assert response.status_code == 303
    html = customer.get("/details/done").get_data(as_text=True)
    assert "You chose not to give these details" in html
    row = customer.row()
    assert row.status == "declined" and row.finished_at is not None
    submission = submission_of(app, customer.public_id)
    assert submission.declined_at and submission.fields_received == []
    assert submission.privacy_notice_version == app.config["PRIVACY_NOTICE_VERSION"]
    assert audit_actions(app, customer.public_id)[-2:] == ["capture.declined", "data.declined"]


def test_the_agent_sees_each_field_arrive_but_never_a_value(app, agent, client):
    customer = Customer(app, agent.id, **DATA_SPEC)
    login(client, agent)

    def fields():
        (panel,) = client.get("/agent/api/requests").get_json()["mine"]
        return {field["name"]: field["text"] for field in panel["data"]}

    assert set(fields().values()) == {"Waiting for the customer"}
    customer.send(ADDRESS)
    assert fields() == {
        "address_line1": "Received",
        "address_line2": "Not given (optional)",
        "town": "Received",
        "county": "Not given (optional)",
        "postcode": "Received",
    }
    console = client.get("/agent/").get_data(as_text=True)
    api = client.get("/agent/api/requests").get_data(as_text=True)
    assert 'data-field="town" data-state="received"' in console
    for value in ("Quillfeather", "Wexcombe", "ZE2 9QX", "ze2 9qx"):
        assert value not in console and value not in api


def test_the_agent_sees_customer_declined(app, agent, client):
    customer = Customer(app, agent.id, **DATA_SPEC)
    customer.decline()
    login(client, agent)
    (panel,) = client.get("/agent/api/requests").get_json()["mine"]
    assert {field["text"] for field in panel["data"]} == {"Customer declined"}
    assert panel["label"] == "Declined"


def test_no_typed_value_reaches_the_logs(app, agent, caplog):
    caplog.set_level(logging.DEBUG)
    customer = Customer(app, agent.id, **DATA_SPEC)
    customer.send({**ADDRESS, "postcode": "ZE2 9QXX"})
    customer.send(ADDRESS)
    logged = caplog.text + logged_text(caplog.records)
    assert "personal data stored" in logged
    for value in ("Quillfeather", "Wexcombe", "ZE2 9QX", "ze2 9qx"):
        assert value.lower() not in logged.lower(), value


def test_a_changed_privacy_notice_is_shown_again_before_sending(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    response = customer.send(ADDRESS, notice_version="2020-01")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Our privacy notice changed while this page was open" in html
    assert submission_of(app, customer.public_id) is None


def test_without_csrf_nothing_is_stored(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    response = customer.client.post(customer.details, data={**ADDRESS, "decision": "send"})
    assert response.status_code == 400
    declined = customer.client.post(customer.details, data={"decision": "decline"})
    assert declined.status_code == 400
    assert submission_of(app, customer.public_id) is None


def test_the_step_needs_the_bound_browser_and_the_identity_check(app, agent):
    public_id, url = create_direct(app, agent.id, **DATA_SPEC)
    details = path_of(url) + "/details"
    stranger = app.test_client()
    assert stranger.get(details).headers["Location"].endswith(path_of(url))
    customer = app.test_client()
    press_start(customer, url)
    assert customer.get(details).headers["Location"].endswith(path_of(url))
    # The other browser, once someone pressed Start: back to the landing page, whose Start
    # button says "already used on another device".
    assert stranger.get(details).headers["Location"].endswith(path_of(url))
    assert press_start(stranger, url).status_code == 409
    assert submission_of(app, public_id) is None


def test_a_payment_request_has_no_details_step(app, agent):
    customer = Customer(app, agent.id)
    response = customer.get()
    assert response.status_code == 303 and response.headers["Location"].endswith("/summary")


def test_an_expired_request_takes_nothing(app, agent):
    customer = Customer(app, agent.id, **DATA_SPEC)
    page = customer.get().get_data(as_text=True)
    expire(app, customer.public_id)
    response = customer.client.post(
        customer.details, data={**ADDRESS, "decision": "send", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 410 and "This link has expired" in response.get_data(
        as_text=True
    )
    assert submission_of(app, customer.public_id) is None


def test_a_revoked_request_is_closed_between_page_and_post(app, agent, client):
    customer = Customer(app, agent.id, **DATA_SPEC)
    page = customer.get().get_data(as_text=True)
    login(client, agent)
    agent_page = client.get("/agent/").get_data(as_text=True)
    client.post(
        f"/agent/requests/{customer.public_id}/revoke", data={"csrf_token": csrf_from(agent_page)}
    )
    assert customer.row().status == "revoked"
    response = customer.client.post(
        customer.details + "/decline", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 410
    assert submission_of(app, customer.public_id) is None


# --- Payment and details ("both") -----------------------------------------------------------


@pytest.fixture
def pay_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


def test_both_goes_from_details_to_payment_and_completes_when_paid(pay_app, agent, stripe_sandbox):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    summary = customer.get("/summary").get_data(as_text=True)
    assert f'href="{customer.details}"' in summary  # the details come first

    response = customer.send(ADDRESS)
    # Told the details arrived first (step 1 of 2), then on to the payment (step 2 of 2).
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/details/done")
    received = customer.get("/details/done").get_data(as_text=True)
    assert "Details received" in received and "Step 2 of 2: payment" in received
    assert f'href="{customer.base}/pay"' in received
    assert customer.row().status == "verified"  # still open: the payment completes it
    summary = customer.get("/summary").get_data(as_text=True)
    assert f'href="{customer.base}/pay"' in summary
    assert customer.get("/details").headers["Location"].endswith("/details/done")

    assert customer.get("/pay").status_code == 200
    _, payment = load_payment(pay_app, customer.public_id)
    confirm_in_browser(stripe_sandbox, payment.stripe_payment_intent_id, "pm_card_visa")
    assert customer.get("/pay/status").get_json()["state"] == "succeeded"
    assert customer.row().status == "succeeded"
    done = customer.get("/details/done").get_data(as_text=True)
    assert "Details received" in done and "£12.50 received" in done


def test_both_paid_first_completes_when_the_details_arrive(pay_app, agent, stripe_sandbox):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    customer.get("/pay")
    _, payment = load_payment(pay_app, customer.public_id)
    confirm_in_browser(stripe_sandbox, payment.stripe_payment_intent_id, "pm_card_visa")
    customer.get("/pay/status")
    assert customer.row().status == "in_progress"  # paid, details still to come

    response = customer.send(ADDRESS)
    assert response.headers["Location"].endswith("/details/done")
    assert customer.row().status == "succeeded"


def test_both_declined_before_paying_takes_no_money(pay_app, agent, stripe_sandbox, client):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    customer.decline()
    html = customer.get("/details/done").get_data(as_text=True)
    assert "No payment has been taken" in html
    assert customer.row().status == "declined"
    # The payment page no longer offers to take money for it.
    response = customer.get("/pay")
    assert response.status_code == 303 and response.headers["Location"].endswith("/summary")
    assert load_payment(pay_app, customer.public_id)[1] is None
    login(client, agent)
    (panel,) = client.get("/agent/api/requests").get_json()["mine"]
    assert {field["text"] for field in panel["data"]} == {"Customer declined"}


def test_both_declined_after_paying_keeps_the_payment(pay_app, agent, stripe_sandbox):
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    customer.get("/pay")
    _, payment = load_payment(pay_app, customer.public_id)
    confirm_in_browser(stripe_sandbox, payment.stripe_payment_intent_id, "pm_card_visa")
    customer.get("/pay/status")

    customer.decline()
    html = customer.get("/details/done").get_data(as_text=True)
    assert "was received and is not affected" in html
    request, payment = load_payment(pay_app, customer.public_id)
    assert (request.status, payment.status) == ("succeeded", "succeeded")
    assert submission_of(pay_app, customer.public_id).declined_at is not None


def test_declining_after_opening_the_payment_page_cancels_the_intent(
    pay_app, agent, stripe_sandbox
):
    """A "both" customer who saw the card form, then went back and declined the details: the
    open PaymentIntent is canceled at Stripe and the payment page says why."""
    customer = Customer(pay_app, agent.id, **BOTH_SPEC)
    customer.get("/pay")
    _, payment = load_payment(pay_app, customer.public_id)
    intent_id = payment.stripe_payment_intent_id

    customer.decline()

    assert customer.row().status == "declined"
    intent = stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")
    assert intent["status"] == "canceled"
    page = customer.get("/pay")
    assert page.status_code == 410
    assert "You chose not to give the details" in page.get_data(as_text=True)
