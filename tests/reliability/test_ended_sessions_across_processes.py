"""A session ended on one app process is over on every other, at its very next request.

Two gunicorn masters (two worker processes each) on one PostgreSQL. The person is signed in
through server 1; the session is ended through server 2, by an administrator ("End all
sessions", the lost-device action, or "Disable the account") or by the person from another
device ("Sign out everywhere else"). The next poll on server 1 gets 401, and the next page
goes to the sign-in page, which says why. No cache stands between a request and the session
row, so there is nothing to wait for: the very next request is checked.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import requests

from tests.reliability.support import needs_postgres_writers, staff_login
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from

pytestmark = [pytest.mark.postgres, pytest.mark.reliability, needs_postgres_writers]

POLL = {"Accept": "application/json", "X-Postern-Background": "poll"}
MESSAGES = {
    "end-sessions": "An administrator signed you out on all your devices.",
    "disable": "This account has been disabled.",
    "sign-out-others": "You signed out of this device from another one.",
}


def _admin_with_reauth(base: str, admin) -> requests.Session:
    """An administrator signed in (password, then TOTP) and just re-authenticated."""
    totp = pyotp.TOTP(admin.totp_secret)
    browser = requests.Session()
    page = browser.get(base + "/login", timeout=30)
    browser.post(
        base + "/login",
        data={
            "username": admin.username,
            "password": DEFAULT_PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
        timeout=30,
    )
    page = browser.get(base + "/login/mfa", timeout=30)
    done = browser.post(
        base + "/login/mfa",
        data={"code": totp.now(), "csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert done.status_code == 302, done.text[:300]
    page = browser.get(base + "/backoffice/reauth", timeout=30)
    next_step = totp.at(int(time.time()) + totp.interval)  # each code is accepted once
    done = browser.post(
        base + "/backoffice/reauth",
        data={"password": DEFAULT_PASSWORD, "code": next_step, "csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert done.status_code == 303, done.text[:300]
    return browser


def _post(browser: requests.Session, base: str, page: str, action: str) -> requests.Response:
    token = csrf_from(browser.get(base + page, timeout=30).text)
    return browser.post(
        base + action, data={"csrf_token": token}, allow_redirects=False, timeout=30
    )


@pytest.mark.parametrize("how", ["end-sessions", "disable", "sign-out-others"])
def test_a_session_ended_through_one_server_gets_401_on_the_other(
    app, make_staff, two_servers, how
):
    """Proves (issue "must be shown"): signed in on server 1, ended through server 2, the next
    request on server 1 gets 401 (JSON poll) and the next page goes to the sign-in page with
    the reason, whichever way the session was ended."""
    server_1, server_2 = two_servers
    agent = make_staff("agent")
    on_server_1 = staff_login(server_1, agent.username, DEFAULT_PASSWORD)
    assert on_server_1.get(server_1 + "/agent/api/requests", headers=POLL).status_code == 200

    if how == "sign-out-others":
        elsewhere = staff_login(server_2, agent.username, DEFAULT_PASSWORD)
        done = _post(elsewhere, server_2, "/account", "/account/sessions/sign-out-others")
        still = elsewhere.get(server_2 + "/agent/api/requests", headers=POLL)
        assert still.status_code == 200  # the device that asked stays signed in
    else:
        admin = _admin_with_reauth(server_2, make_staff("admin", mfa=True))
        page = f"/backoffice/staff/{agent.id}"
        done = _post(admin, server_2, page, f"{page}/{how}")
    assert done.status_code == 303, done.text[:300]

    poll = on_server_1.get(server_1 + "/agent/api/requests", headers=POLL, timeout=30)
    assert poll.status_code == 401
    assert poll.json()["error"] == "not_authenticated"
    # A page request from the same browser: to the sign-in page, with a calm reason. (The poll
    # above already forgot the session; the reason travels in the cookie to the login page.)
    login_page = on_server_1.get(server_1 + "/login", timeout=30)
    assert MESSAGES[how] in re.sub(r"\s+", " ", login_page.text)
    assert on_server_1.get(server_1 + "/agent/", allow_redirects=False).status_code == 302
