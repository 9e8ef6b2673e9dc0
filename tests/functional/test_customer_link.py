"""The customer's link: neutral landing, Start binds one browser, and every bad-token page."""

from __future__ import annotations

import pytest
from itsdangerous import TimestampSigner

from tests.support.capture import (
    answer_identity,
    audit_actions,
    count_audit,
    create_direct,
    expire,
    load,
    path_of,
    press_start,
    update_request,
)
from tests.support.web import csrf_from


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


@pytest.fixture
def link(app, agent):
    """(public_id, url) of a fresh payment request with a postcode check."""
    return create_direct(app, agent.id)


def _problem(response) -> str:
    page = response.get_data(as_text=True)
    marker = 'data-problem="'
    return page.split(marker, 1)[1].split('"', 1)[0] if marker in page else ""


def test_landing_page_is_neutral_and_marks_opened_once(app, client, link):
    public_id, url = link
    response = client.get(path_of(url))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Postern Demo Ltd" in page and "Start" in page
    for secret in ("12.50", "£", "ACC-1001", "Gas bill", "agent1", "SW1A", "postcode"):
        assert secret not in page, secret
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert load(app, public_id).status == "opened"
    client.get(path_of(url))
    assert count_audit(app, "capture.opened", public_id) == 1


def test_preview_bots_fetch_many_times_then_the_customer_starts(app, link):
    public_id, url = link
    for _ in range(12):  # SMS apps, messengers and mail scanners drawing previews
        bot = app.test_client()
        assert bot.get(path_of(url)).status_code == 200
        assert bot.head(path_of(url)).status_code == 200
    row = load(app, public_id)
    assert row.status == "opened" and row.bound_secret_hash is None
    customer = app.test_client()
    response = press_start(customer, url)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/check")
    assert load(app, public_id).bound_secret_hash is not None
    assert count_audit(app, "capture.opened", public_id) == 1
    assert count_audit(app, "capture.bound", public_id) == 1


def test_start_binds_with_a_strict_cookie_and_only_a_hash_is_stored(app, client, link):
    public_id, url = link
    response = press_start(client, url)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if "postern_link_" in c]
    name, value = cookie.split(";", 1)[0].split("=", 1)
    assert name == f"postern_link_{public_id}"
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/c/"):
        assert flag in cookie
    assert "Secure" not in cookie  # SESSION_COOKIE_SECURE is off in testing
    row = load(app, public_id)
    assert row.bound_secret_hash and value not in row.bound_secret_hash
    from portal.capture.links import hash_secret

    assert row.bound_secret_hash == hash_secret(value)


def test_binding_cookie_is_secure_when_configured(app_factory, make_staff):
    app = app_factory(SESSION_COOKIE_SECURE=True)
    _public_id, url = create_direct(app, make_staff("agent").id)
    client = app.test_client()
    page = client.get(path_of(url))
    # The staff/CSRF session cookie is Secure too, so post over "https" in the test client.
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        path_of(url) + "/start",
        data={"csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/"},
    )
    cookies = response.headers.getlist("Set-Cookie")
    assert any("postern_link_" in c and "; Secure" in c for c in cookies), cookies


def test_reloads_in_the_bound_browser_keep_working(app, client, link):
    _public_id, url = link
    start_page_token = csrf_from(client.get(path_of(url)).get_data(as_text=True))
    first = client.post(path_of(url) + "/start", data={"csrf_token": start_page_token})
    assert first.status_code == 303
    for _ in range(3):
        assert client.get(path_of(url) + "/check").status_code == 200
    landing = client.get(path_of(url))
    assert landing.status_code == 303 and landing.headers["Location"].endswith("/check")
    # Pressing Start again (double tap, back button) continues instead of failing.
    again = client.post(path_of(url) + "/start", data={"csrf_token": start_page_token})
    assert again.status_code == 303


def test_another_browser_is_told_the_link_was_used_on_another_device(app, link):
    public_id, url = link
    first, second = app.test_client(), app.test_client()
    assert press_start(first, url).status_code == 303
    response = press_start(second, url)
    assert response.status_code == 409
    assert _problem(response) == "other_device"
    page = response.get_data(as_text=True)
    assert "already been used on another device" in page
    assert "ask the person you are speaking to for a new link" in page.lower()
    assert "12.50" not in page and "ACC-1001" not in page
    # Nor can it reach the pages past Start.
    assert second.get(path_of(url) + "/check").status_code == 303
    assert second.get(path_of(url) + "/summary").status_code == 303
    assert count_audit(app, "capture.bind_refused", public_id) == 1


def test_pages_past_start_need_the_binding(app, client, link):
    _public_id, url = link
    for page in ("/check", "/summary"):
        response = client.get(path_of(url) + page)
        assert response.status_code == 303
        assert response.headers["Location"].endswith(path_of(url))


def test_start_needs_csrf(app, client, link):
    public_id, url = link
    client.get(path_of(url))
    response = client.post(path_of(url) + "/start", data={})
    assert response.status_code == 400
    assert load(app, public_id).bound_secret_hash is None


def test_start_without_identity_check_goes_straight_to_the_summary(app, agent, client):
    public_id, url = create_direct(app, agent.id, identity_item=None, identity_value=None)
    response = press_start(client, url)
    assert response.headers["Location"].endswith("/summary")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "£12.50" in page and "Gas bill for March" in page and "ACC-1001" in page
    assert load(app, public_id).status == "verified"
    assert "capture.verified" in audit_actions(app, public_id)


# --- every bad token gets its own page and status, revealing nothing ---------------------


def _assert_reveals_nothing(response):
    page = response.get_data(as_text=True)
    for secret in ("12.50", "ACC-1001", "Gas bill", "agent1", "Start</button>"):
        assert secret not in page, secret


def test_tampered_token(app, client, link):
    _public_id, url = link
    payload, timestamp, signature = path_of(url).rsplit("/", 1)[1].split(".")
    from portal.capture.links import serializer

    with app.app_context():
        forged_payload = serializer().dump_payload(["ZZZZZZZZZZ", "A" * 22]).decode()
    for token in (
        f"{payload}.{timestamp}.{signature[:-4]}",  # cut short
        f"{forged_payload}.{timestamp}.{signature}",  # contents changed
        "not-a-real-token",
    ):
        response = client.get(f"/c/{token}")
        assert response.status_code == 400, token
        assert _problem(response) == "tampered"
        _assert_reveals_nothing(response)


def test_foreign_key_token(app_factory, make_staff):
    old = app_factory(LINK_SIGNING_KEYS=["retired-key-" + "r" * 30])
    _public_id, url = create_direct(old, make_staff("agent").id)
    current = app_factory(LINK_SIGNING_KEYS=["current-key-" + "c" * 30])
    response = current.test_client().get(path_of(url))
    assert response.status_code == 400
    assert _problem(response) == "foreign"
    assert "do not enter any details" in response.get_data(as_text=True)
    _assert_reveals_nothing(response)


def test_rotated_key_still_opens_links_it_signed(app_factory, make_staff):
    old_key, new_key = "old-key-" + "o" * 32, "new-key-" + "n" * 32
    before = app_factory(LINK_SIGNING_KEYS=[old_key])
    public_id, url = create_direct(before, make_staff("agent").id)
    after = app_factory(LINK_SIGNING_KEYS=[new_key, old_key])
    client = after.test_client()
    assert client.get(path_of(url)).status_code == 200
    assert press_start(client, url).status_code == 303
    assert load(after, public_id).bound_secret_hash is not None


def test_token_past_its_signature_max_age(app, client, link):
    public_id, url = link

    class OldClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 61 * 60

    from portal.capture.links import serializer

    row = load(app, public_id)
    assert row.status == "sent"
    # Re-sign the same claim an hour and a minute ago (the request row is still live).
    with app.app_context():
        from portal.capture import links

        claim = links.read_token(path_of(url).rsplit("/", 1)[1])
        old_token = serializer(signer=OldClock).dumps([claim.public_id, claim.nonce])
    response = client.get(f"/c/{old_token}")
    assert response.status_code == 410
    assert _problem(response) == "link_expired"
    _assert_reveals_nothing(response)


def test_request_past_its_expiry_is_expired_and_written_down(app, client, link):
    public_id, url = link
    expire(app, public_id)
    response = client.get(path_of(url))
    assert response.status_code == 410
    assert _problem(response) == "expired"
    _assert_reveals_nothing(response)
    row = load(app, public_id)
    assert row.status == "expired" and row.status_reason == "time_limit"
    assert count_audit(app, "capture.expired", public_id) == 1
    client.get(path_of(url))
    assert count_audit(app, "capture.expired", public_id) == 1


def test_expiry_is_checked_again_at_start(app, client, link):
    public_id, url = link
    token = csrf_from(client.get(path_of(url)).get_data(as_text=True))
    expire(app, public_id)
    response = client.post(path_of(url) + "/start", data={"csrf_token": token})
    assert response.status_code == 410
    assert load(app, public_id).bound_secret_hash is None


def test_revoked_request(app, client, link):
    public_id, url = link
    update_request(app, public_id, status="revoked")
    response = client.get(path_of(url))
    assert response.status_code == 410
    assert _problem(response) == "revoked"
    _assert_reveals_nothing(response)


def test_locked_request(app, client, link):
    public_id, url = link
    update_request(app, public_id, status="locked")
    response = client.get(path_of(url))
    assert response.status_code == 423
    assert _problem(response) == "locked"
    _assert_reveals_nothing(response)


def test_unknown_request(app, client, link):
    public_id, url = link
    update_request(app, public_id, public_id="GONEGONEGO")
    response = client.get(path_of(url))
    assert response.status_code == 404
    assert _problem(response) == "unknown"


def test_replaced_link_after_a_resend(app, client, link):
    public_id, url = link
    from portal.audit import Actor
    from portal.capture import service
    from portal.extensions import db

    with app.app_context():
        from portal.models.capture import CaptureRequest

        row = db.session.query(CaptureRequest).filter_by(public_id=public_id).one()
        new_url = service.resend(row, "copy", None, actor=Actor.staff(row.created_by)).url
        db.session.commit()
    response = client.get(path_of(url))
    assert response.status_code == 410
    assert _problem(response) == "replaced"
    assert client.get(path_of(new_url)).status_code == 200


def test_finished_request_for_another_browser(app, link):
    public_id, url = link
    update_request(app, public_id, status="succeeded")
    response = app.test_client().get(path_of(url))
    assert response.status_code == 410
    assert _problem(response) == "finished"


def test_problem_pages_for_post_routes_too(app, client, link):
    public_id, url = link
    token = csrf_from(client.get(path_of(url)).get_data(as_text=True))
    update_request(app, public_id, status="revoked")
    assert client.post(path_of(url) + "/start", data={"csrf_token": token}).status_code == 410
    assert client.post("/c/not-a-real-token/start", data={"csrf_token": token}).status_code == 400


def test_summary_after_identity(app, client, link):
    public_id, url = link
    press_start(client, url)
    response = answer_identity(client, url, "sw1a1aa")
    assert response.status_code == 303 and response.headers["Location"].endswith("/summary")
    page = client.get(path_of(url) + "/summary").get_data(as_text=True)
    row = load(app, public_id)
    assert f"{row.readback_code[:3]} {row.readback_code[3:]}" in page
    for shown in ("£12.50", "Gas bill for March", "ACC-1001", "Postern Demo Ltd", "Next step"):
        assert shown in page
    assert f'href="{path_of(url)}/pay">Continue to payment</a>' in page
    # The check page is done: it forwards to the summary.
    assert client.get(path_of(url) + "/check").status_code == 303


def test_summary_of_a_data_request(app, agent, client):
    public_id, url = create_direct(
        app,
        agent.id,
        kind="data",
        field_set="address",
        amount_minor=None,
        currency=None,
        purpose=None,
        identity_item=None,
        identity_value=None,
    )
    response = press_start(client, url)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Postal address" in page and "Next step" in page
    assert "Continue to payment" not in page and "Amount" not in page


def test_summary_of_a_finished_request_in_the_bound_browser(app, client, link):
    public_id, url = link
    press_start(client, url)
    answer_identity(client, url, "SW1A 1AA")
    update_request(app, public_id, status="succeeded")
    response = client.get(path_of(url) + "/summary")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This request is complete" in page and "Continue to payment" not in page
