"""Sessions a person can see and end: the account page's list (device, masked address,
signed in, last seen, this device), "sign out everywhere else", and an administrator's
"end all sessions" (the lost-device action). What an ended session then gets is the same on
every app process; tests/reliability/test_ended_sessions_across_processes.py shows it
across real gunicorn processes."""

from __future__ import annotations

from tests.support.auth import audit_rows, session_rows, text_of
from tests.support.backoffice_write import reauth
from tests.support.web import login, post_form

WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
POLL = {"Accept": "application/json", "X-Postern-Background": "poll"}


def device_client(app, user_agent: str, address: str):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": address})
    return client


def test_the_account_page_lists_each_session_with_its_device_and_place(app, make_staff):
    """Proves: each sign-in is listed with its parsed device, its address masked to the /24,
    when it signed in and was last seen; the session in hand is marked "This device"; the raw
    user agent and the full address are not shown."""
    user = make_staff("agent")
    laptop = device_client(app, WINDOWS_CHROME, "203.0.113.77")
    phone = device_client(app, IPHONE_SAFARI, "198.51.100.9")
    login(laptop, user)
    login(phone, user)

    rows = session_rows(app, user.id)
    assert [(r.device, r.ip_address) for r in rows] == [
        ("Chrome on Windows", "203.0.113.77"),
        ("Mobile Safari on iOS", "198.51.100.9"),
    ]
    page = text_of(laptop.get("/account"))
    assert "Chrome on Windows This device" in page
    assert "Mobile Safari on iOS Approximate place 198.51.100.0/24" in page
    assert "203.0.113.0/24" in page
    assert "203.0.113.77" not in page and "Win64" not in page
    assert "Signed in" in page and "Last seen" in page
    assert "Sign out everywhere else" in page


def test_sign_out_everywhere_else_ends_the_other_sessions_only(app, make_staff):
    """Proves: "sign out everywhere else" ends every other session of the person (the next poll
    there gets 401, the next page goes to the sign-in page with a calm message), keeps this
    one, and is audited."""
    user = make_staff("agent")
    laptop = device_client(app, WINDOWS_CHROME, "203.0.113.77")
    phone = device_client(app, IPHONE_SAFARI, "198.51.100.9")
    login(laptop, user)
    login(phone, user)
    assert phone.get("/agent/api/requests", headers=POLL).status_code == 200

    done = post_form(laptop, "/account/sessions/sign-out-others", {}, page="/account")

    assert done.status_code == 303
    assert "Signed out of 1 other session." in text_of(laptop.get("/account"))
    assert laptop.get("/agent/").status_code == 200
    poll = phone.get("/agent/api/requests", headers=POLL)
    assert poll.status_code == 401
    assert poll.get_json()["error"] == "not_authenticated"
    assert [r.end_reason for r in session_rows(app, user.id)] == [None, "signed_out_elsewhere"]
    login(phone, user)  # the phone signs in again...
    post_form(laptop, "/account/sessions/sign-out-others", {}, page="/account")
    page = phone.get("/agent/")  # ...and its next page is the sign-in page, which says why
    assert page.headers["Location"].startswith("/login")
    assert "You signed out of this device from another one." in text_of(
        phone.get(page.headers["Location"])
    )
    rows = audit_rows(app, "auth.other_sessions_ended")
    assert [r.details for r in rows] == [{"sessions_ended": 1}] * 2
    assert rows[0].target_id == str(user.id)


def test_alone_there_is_nothing_else_to_sign_out(app, make_staff):
    user = make_staff("agent")
    client = app.test_client()
    login(client, user)
    page = text_of(client.get("/account"))
    assert "You are not signed in anywhere else." in page
    post_form(client, "/account/sessions/sign-out-others", {}, page="/account")
    assert "You were not signed in anywhere else." in text_of(client.get("/account"))


def test_an_admin_ends_all_sessions_of_a_lost_device_after_reauthenticating(app, make_staff):
    """Proves: the lost-device action needs a recent re-authentication, ends every session of
    the account at once (the next poll gets 401, the next page says an administrator signed
    them out), leaves the account usable, and is audited with the count."""
    target = make_staff("agent")
    laptop = device_client(app, WINDOWS_CHROME, "203.0.113.77")
    login(laptop, target)
    login(device_client(app, IPHONE_SAFARI, "198.51.100.9"), target)
    admin = make_staff("admin", mfa=True)
    client = app.test_client()
    login(client, admin)
    page = f"/backoffice/staff/{target.id}"
    staff_page = text_of(client.get(page))
    assert "Chrome on Windows" in staff_page and "Mobile Safari on iOS" in staff_page
    assert "End all sessions" in staff_page

    first = post_form(client, f"{page}/end-sessions", {}, page=page)
    assert first.headers["Location"].startswith("/backoffice/reauth")
    assert all(r.ended_at is None for r in session_rows(app, target.id))
    assert reauth(client, admin).status_code == 303
    done = post_form(client, f"{page}/end-sessions", {}, page=page)

    assert done.status_code == 303
    assert "signed out everywhere; 2 sessions ended." in text_of(client.get(page))
    assert {r.end_reason for r in session_rows(app, target.id)} == {"ended_by_admin"}
    assert laptop.get("/agent/api/requests", headers=POLL).status_code == 401
    login(laptop, target)  # the account itself still works
    assert laptop.get("/agent/").status_code == 200
    (row,) = audit_rows(app, "staff.sessions_ended")
    assert (row.target_id, row.actor_id, row.details) == (
        str(target.id),
        admin.id,
        {"sessions_ended": 2},
    )
    # The laptop signed in again: one session, said in the singular.
    post_form(client, f"{page}/end-sessions", {}, page=page)
    assert "signed out everywhere; 1 session ended." in text_of(client.get(page))


def test_the_ended_session_is_told_an_administrator_signed_it_out(app, make_staff):
    target = make_staff("agent")
    browser = app.test_client()
    login(browser, target)
    admin = make_staff("admin", mfa=True)
    client = app.test_client()
    login(client, admin)
    reauth(client, admin)
    page = f"/backoffice/staff/{target.id}"
    post_form(client, f"{page}/end-sessions", {}, page=page)
    answer = browser.get("/agent/")
    assert answer.headers["Location"].startswith("/login")
    assert "An administrator signed you out on all your devices." in text_of(
        browser.get(answer.headers["Location"])
    )


def test_disable_takes_effect_on_the_next_request(app, make_staff):
    """Proves: disabling ends the sessions in the same transaction: the next poll gets 401."""
    target = make_staff("agent")
    browser = app.test_client()
    login(browser, target)
    admin = make_staff("admin", mfa=True)
    client = app.test_client()
    login(client, admin)
    reauth(client, admin)
    page = f"/backoffice/staff/{target.id}"
    post_form(client, f"{page}/disable", {}, page=page)
    assert browser.get("/agent/api/requests", headers=POLL).status_code == 401
    assert {r.end_reason for r in session_rows(app, target.id)} == {"account_disabled"}


def test_nobody_ends_their_own_sessions_from_the_staff_page(app, make_staff):
    admin = make_staff("admin", mfa=True)
    client = app.test_client()
    login(client, admin)
    reauth(client, admin)
    page = f"/backoffice/staff/{admin.id}"
    assert "End all sessions" not in text_of(client.get(page))
    post_form(client, f"{page}/end-sessions", {}, page=page)
    assert "You cannot end all the sessions of your own account." in text_of(client.get(page))
    assert audit_rows(app, "staff.sessions_ended") == []
    assert client.get("/backoffice/").status_code == 200
