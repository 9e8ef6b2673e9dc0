"""The console's live-status API: ETags, progress, expiry on read, sessions ending, and
nothing captured ever leaving it."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.support.capture import answer_identity, create_direct, expire, load, path_of, press_start
from tests.support.web import login


def _status(client, public_id):
    return client.get(f"/agent/api/requests/{public_id}/status").get_json()


def test_progress_is_reported_step_by_step(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    customer = app.test_client()
    seen = [_status(client, public_id)["label"]]
    customer.get(path_of(url))
    seen.append(_status(client, public_id)["label"])
    press_start(customer, url)
    started = _status(client, public_id)
    seen.append(started["label"])
    answer_identity(customer, url, "AB1 2CD")
    assert "1 wrong answer so far" in _status(client, public_id)["detail"]
    answer_identity(customer, url, "SW1A 1AA")
    final = _status(client, public_id)
    seen.append(final["label"])
    assert seen == [
        "Link ready to give",
        "Link opened",
        "Started on the customer's device",
        "Identity confirmed",
    ]
    assert [s["key"] for s in final["steps"] if s["done"]] == [
        "sent",
        "opened",
        "started",
        "verified",
    ]
    assert final["actions"] == {"revoke": True, "extend": True, "resend": False}
    assert final["readback_code"].replace(" ", "") == load(app, public_id).readback_code


def test_etag_and_304(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    first = client.get("/agent/api/requests")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-store"
    etag = first.headers["ETag"]
    again = client.get("/agent/api/requests", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    app.test_client().get(path_of(url))  # the customer opens the link
    changed = client.get("/agent/api/requests", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["mine"][0]["status"] == "opened"
    single = client.get(f"/agent/api/requests/{public_id}/status")
    assert (
        client.get(
            f"/agent/api/requests/{public_id}/status",
            headers={"If-None-Match": single.headers["ETag"]},
        ).status_code
        == 304
    )


def test_expiry_is_shown_on_read_and_persisted(app, logged_in):
    client, agent = logged_in("agent")
    public_id, _url = create_direct(app, agent.id)
    expire(app, public_id, ago=timedelta(seconds=2))
    data = client.get("/agent/api/requests").get_json()["mine"][0]
    assert data["status"] == "expired" and data["label"] == "Expired"
    assert data["actions"] == {"revoke": False, "extend": False, "resend": False}
    assert load(app, public_id).status == "expired"


def test_session_end_gives_401_json(app, logged_in):
    client, _agent = logged_in("agent")
    from tests.support.web import csrf_from

    token = csrf_from(client.get("/agent/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    response = client.get("/agent/api/requests", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_authenticated"


def test_nothing_secret_or_captured_is_exposed(app, logged_in):
    client, agent = logged_in("agent")
    public_id, url = create_direct(app, agent.id)
    customer = app.test_client()
    press_start(customer, url)
    answer_identity(customer, url, "SW1A 1AA")
    row = load(app, public_id)
    body = json.dumps(client.get("/agent/api/requests").get_json())
    page = client.get("/agent/").get_data(as_text=True)
    for secret in (row.link_nonce_hash, row.identity_hash, row.bound_secret_hash, "SW1A"):
        assert secret not in body and secret not in page
    assert path_of(url) not in body and path_of(url) not in page


def test_console_polls_from_a_static_script(app, logged_in):
    client, _agent = logged_in("agent")
    page = client.get("/agent/").get_data(as_text=True)
    assert 'src="/static/js/agent/console.js" nonce="' in page
    assert 'data-poll-url="/agent/api/requests"' in page
    csp = client.get("/agent/").headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp


def test_other_processes_see_the_same_state(app_factory, make_staff):
    """Two app instances (as two processes would be) share nothing but the database."""
    first, second = app_factory(), app_factory()
    agent = make_staff("agent")
    public_id, url = create_direct(first, agent.id)
    customer = first.test_client()
    press_start(customer, url)
    watcher = second.test_client()
    login(watcher, agent)
    assert _status(watcher, public_id)["label"] == "Started on the customer's device"


# --- every payment moment on the panel, against the Stripe sandbox -------------------------

#: Exactly what the panel says about a payment. A new key fails this on purpose: whoever adds
#: one must check it carries nothing of the card beyond its brand and last four digits.
PAYMENT_KEYS = {
    "state",
    "label",
    "detail",
    "tone",
    "amount",
    "paid",
    "refunded",
    "refund_pending",
    "disputed",
    "net",
    "attempts_left",
    "decline_reason",
    "dispute",
    "card",
    "summary",
}
CARD_KEYS = {"brand", "last4"}
LINK_EXPIRY_KEYS = {".expires_at", ".expires_label"}


def _keys(value, path=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield f"{path}.{key}"
            yield from _keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner, f"{path}[]")


def _no_card_secrets(panel: dict, payment_row=None) -> None:
    """The panel names no card number, expiry, security code or fingerprint anywhere."""
    for key in _keys(panel):
        leaf = key.rsplit(".", 1)[-1].lower()
        if key in LINK_EXPIRY_KEYS:
            continue  # when the link stops working, not the card's expiry
        assert not any(bad in leaf for bad in ("exp", "number", "cvc", "pan", "fingerprint")), key
    if panel["payment"] is not None:
        assert set(panel["payment"]) == PAYMENT_KEYS
        if panel["payment"]["card"] is not None:
            assert set(panel["payment"]["card"]) == CARD_KEYS
    if payment_row is not None and payment_row.card_exp_year:
        text = json.dumps(panel)
        assert str(payment_row.card_exp_year) not in text
        assert f"{payment_row.card_exp_month:02d}/" not in text


def _save(name: str, panel: dict) -> None:
    """Keep the panel JSON of a moment with the run's artifacts (the issue asks to see it)."""
    from tests.support.artifacts import ARTIFACTS

    folder = ARTIFACTS / "agent_panel"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(panel, indent=2, sort_keys=True) + "\n")


def _watching_agent(pay_app, make_staff):
    from tests.support.payments import customer_at_payment

    agent = make_staff("agent")
    watcher = pay_app.test_client()
    login(watcher, agent)
    customer = customer_at_payment(pay_app, agent.id)
    return watcher, customer


def _intent_of(pay_app, customer) -> str:
    from tests.support.payments import load_payment

    return load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id


def _customer_page_polls(customer) -> dict:
    """What the payment page's script does after Stripe.js answers: ask Postern for the truth."""
    return customer.client.get(customer.pay_path + "/status").get_json()


def test_a_decline_reaches_the_agent_with_the_reason_and_the_attempts_left(
    pay_app, make_staff, stripe_sandbox
):
    from tests.support.payments import confirm_in_browser, load_payment

    watcher, customer = _watching_agent(pay_app, make_staff)
    verified = _status(watcher, customer.public_id)
    assert verified["label"] == "Identity confirmed" and verified["payment"] is None

    customer.client.get(customer.pay_path)
    on_page = _status(watcher, customer.public_id)
    assert on_page["label"] == "On the payment page" and on_page["tone"] == "active"
    assert on_page["payment"]["state"] == "on_payment_page"

    confirm_in_browser(
        stripe_sandbox, _intent_of(pay_app, customer), "pm_card_chargeDeclinedInsufficientFunds"
    )
    _customer_page_polls(customer)
    declined = _status(watcher, customer.public_id)
    limit = pay_app.config["PAYMENT_MAX_ATTEMPTS"]
    assert declined["label"] == f"Declined ({limit - 1} attempts left)"
    assert declined["tone"] == "bad" and declined["label"] != "Identity confirmed"
    assert declined["detail"] == (
        "Declined: there is not enough money available on the card. No money was taken. "
        f"{limit - 1} attempts left."
    )
    payment = declined["payment"]
    assert payment["state"] == "declined" and payment["attempts_left"] == limit - 1
    assert payment["decline_reason"] == "there is not enough money available on the card"
    assert payment["card"] is None and payment["paid"] == "£0.00"
    assert "insufficient_funds" not in json.dumps(declined)  # words, not Stripe's codes
    _no_card_secrets(declined, load_payment(pay_app, customer.public_id)[1])
    _save("after_decline", declined)


def test_a_fraud_decline_is_read_out_as_a_plain_bank_decline(pay_app, make_staff, stripe_sandbox):
    from tests.support.payments import confirm_in_browser

    watcher, customer = _watching_agent(pay_app, make_staff)
    customer.client.get(customer.pay_path)
    confirm_in_browser(
        stripe_sandbox, _intent_of(pay_app, customer), "pm_card_chargeDeclinedStolenCard"
    )
    _customer_page_polls(customer)
    panel = _status(watcher, customer.public_id)
    assert panel["payment"]["decline_reason"] == "the bank did not say why"
    assert "stolen" not in json.dumps(panel).lower()


def test_3d_secure_reads_as_confirming_with_the_bank_then_its_failure_as_a_decline(
    pay_app, make_staff, stripe_sandbox
):
    from tests.support.payments import answer_challenge, confirm_in_browser, load_payment

    watcher, customer = _watching_agent(pay_app, make_staff)
    customer.client.get(customer.pay_path)
    intent_id = _intent_of(pay_app, customer)
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_threeDSecure2Required")
    _customer_page_polls(customer)
    challenged = _status(watcher, customer.public_id)
    assert challenged["label"] == "Confirming with their bank"
    assert (
        "3-D Secure" in challenged["detail"]
        and "entering their details" not in challenged["detail"]
    )
    assert challenged["payment"]["state"] == "confirming_with_bank"
    _save("during_3d_secure", challenged)

    answer_challenge(stripe_sandbox, intent_id, complete=False)
    _customer_page_polls(customer)
    failed = _status(watcher, customer.public_id)
    limit = pay_app.config["PAYMENT_MAX_ATTEMPTS"]
    assert failed["label"] == f"Declined ({limit - 1} attempts left)" and failed["tone"] == "bad"
    assert failed["payment"]["decline_reason"] == (
        "their bank's security check (3-D Secure) was not completed"
    )
    _no_card_secrets(failed, load_payment(pay_app, customer.public_id)[1])
    _save("after_3d_secure_failed", failed)


def test_paid_then_refunded_in_part_then_in_full(pay_app, make_staff, stripe_sandbox):
    from tests.support.backoffice_write import ask_refund, reauth
    from tests.support.payments import confirm_in_browser, load_payment

    watcher, customer = _watching_agent(pay_app, make_staff)
    customer.client.get(customer.pay_path)
    confirm_in_browser(stripe_sandbox, _intent_of(pay_app, customer), "pm_card_visa")
    _customer_page_polls(customer)
    paid = _status(watcher, customer.public_id)
    assert paid["label"] == "Paid" and paid["tone"] == "good"
    assert paid["detail"] == "£12.50 paid with Visa •••• 4242."
    assert paid["payment"]["card"] == {"brand": "Visa", "last4": "4242"}
    assert paid["payment"]["summary"] == "Visa •••• 4242 · paid £12.50"
    _no_card_secrets(paid, load_payment(pay_app, customer.public_id)[1])
    _save("after_payment", paid)

    officer_client = pay_app.test_client()
    officer = make_staff("backoffice", mfa=True)
    login(officer_client, officer)
    assert reauth(officer_client, officer).status_code == 303
    refund = {"reason_code": "requested_by_customer", "note": "Asked"}
    partial = ask_refund(
        officer_client, customer.public_id, {**refund, "scope": "partial", "amount": "5.00"}
    )
    assert partial.status_code == 303
    part = _status(watcher, customer.public_id)
    assert part["label"] == "Partially refunded"
    assert (part["payment"]["refunded"], part["payment"]["net"]) == ("£5.00", "£7.50")

    rest = ask_refund(officer_client, customer.public_id, {**refund, "scope": "full", "amount": ""})
    assert rest.status_code == 303
    refunded = _status(watcher, customer.public_id)
    assert refunded["label"] == "Refunded" and refunded["tone"] == "muted"
    assert (refunded["payment"]["refunded"], refunded["payment"]["net"]) == ("£12.50", "£0.00")
    assert refunded["payment"]["summary"] == (
        "Visa •••• 4242 · paid £12.50 · refunded £12.50 · kept £0.00"
    )
    _no_card_secrets(refunded, load_payment(pay_app, customer.public_id)[1])
    _save("after_refund", refunded)


def test_a_pending_refund_then_its_success(pay_app, make_staff, stripe_sandbox):
    from tests.support.backoffice_write import ask_refund, reauth
    from tests.support.payments import advance_refunds, confirm_in_browser
    from tests.support.refund_journeys import deliver_all, new_events, seen_so_far

    watcher, customer = _watching_agent(pay_app, make_staff)
    customer.client.get(customer.pay_path)
    intent_id = _intent_of(pay_app, customer)
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_pendingRefund")
    _customer_page_polls(customer)
    officer_client = pay_app.test_client()
    officer = make_staff("backoffice", mfa=True)
    login(officer_client, officer)
    assert reauth(officer_client, officer).status_code == 303
    seen = seen_so_far(stripe_sandbox, intent_id)
    fields = {
        "reason_code": "requested_by_customer",
        "note": "Asked",
        "scope": "full",
        "amount": "",
    }
    assert ask_refund(officer_client, customer.public_id, fields).status_code == 303
    pending = _status(watcher, customer.public_id)
    assert pending["label"] == "Refund pending"
    assert "A refund of £12.50 is on its way" in pending["detail"]
    assert (
        pending["payment"]["refund_pending"] == "£12.50" and pending["payment"]["net"] == "£12.50"
    )

    advance_refunds(stripe_sandbox)
    deliver_all(pay_app, new_events(stripe_sandbox, intent_id, seen))
    done = _status(watcher, customer.public_id)
    assert done["label"] == "Refunded" and done["payment"]["refund_pending"] == "£0.00"


def test_a_dispute_reaches_the_agent(pay_app, make_staff, stripe_sandbox):
    from tests.support.payments import confirm_in_browser
    from tests.support.refund_journeys import deliver_all, events_for

    watcher, customer = _watching_agent(pay_app, make_staff)
    customer.client.get(customer.pay_path)
    intent_id = _intent_of(pay_app, customer)
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_createDispute")
    _customer_page_polls(customer)
    disputes = [
        e for e in events_for(stripe_sandbox, intent_id) if e["type"].startswith("charge.dispute.")
    ]
    assert disputes, "the sandbox opened no dispute"
    deliver_all(pay_app, disputes)
    panel = _status(watcher, customer.public_id)
    assert panel["label"] == "Disputed" and panel["tone"] == "bad"
    assert panel["payment"]["disputed"] == "£12.50" and panel["payment"]["net"] == "£0.00"
    assert panel["payment"]["dispute"] == "Disputed: evidence is needed"
    _save("after_dispute", panel)


def test_the_last_allowed_decline_reads_failed_with_no_attempts_left(
    pay_app, make_staff, stripe_sandbox
):
    from tests.support.payments import confirm_in_browser

    watcher, customer = _watching_agent(pay_app, make_staff)
    customer.client.get(customer.pay_path)
    intent_id = _intent_of(pay_app, customer)
    limit = pay_app.config["PAYMENT_MAX_ATTEMPTS"]
    for tried in range(1, limit + 1):
        confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
        _customer_page_polls(customer)
        panel = _status(watcher, customer.public_id)
        if tried < limit:
            assert (
                panel["label"]
                == f"Declined ({limit - tried} attempt{'s' if limit - tried != 1 else ''} left)"
            )
    assert panel["label"] == "Failed" and panel["tone"] == "bad"
    assert panel["detail"].startswith(
        "Stopped after too many declined attempts. No money was taken."
    )
    assert panel["payment"]["attempts_left"] == 0
