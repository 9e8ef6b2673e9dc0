"""What the staff gate answers (portal/security/guards.py): where a browser is sent, what a
script reads, and which pages a half-finished or restricted session may still open."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.support.auth import update_staff
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, login, post_form

SESSION_ENDED = {"error": "not_authenticated", "message": "Your session has ended. Log in."}
CHANGE_PASSWORD = {
    "error": "password_change_required",
    "message": "Choose a new password to continue.",
}


def sent_to(response) -> tuple[str, dict[str, list[str]]]:
    """The path a redirect sends the browser to, and that address's query."""
    assert response.status_code == 302, response.status_code
    parts = urlsplit(response.headers["Location"])
    return parts.path, parse_qs(parts.query)


def password_only(client, user):
    """Sign in with the password and stop before the second factor."""
    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    return response


# --- not signed in ---------------------------------------------------------------------------


def test_a_page_opened_signed_out_sends_the_browser_to_sign_in_and_back_to_it(client):
    assert sent_to(client.get("/account")) == ("/login", {"next": ["/account"]})
    assert sent_to(client.get("/agent/")) == ("/login", {"next": ["/agent/"]})


def test_the_way_back_keeps_the_page_query(client):
    assert sent_to(client.get("/agent/?tab=open&page=2")) == (
        "/login",
        {"next": ["/agent/?tab=open&page=2"]},
    )


def test_signing_in_from_the_redirect_returns_to_the_page_asked_for(client, make_staff):
    user = make_staff("agent")
    login_url = client.get("/account").headers["Location"]
    response = post_form(
        client, login_url, {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert sent_to(response) == ("/account", {})
    assert client.get("/account").status_code == 200


def test_a_form_sent_after_the_session_ended_goes_to_sign_in_without_a_way_back(client):
    """A POST cannot be replayed by following a link, so the login page is not told to return."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/agent/requests", data={"csrf_token": token})
    assert sent_to(response) == ("/login", {})


def test_a_script_signed_out_is_told_so_in_json(client):
    response = client.get("/agent/api/requests")
    assert response.status_code == 401
    assert response.get_json() == SESSION_ENDED


def test_a_page_asked_for_in_json_answers_in_json(client):
    response = client.get("/account", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json() == SESSION_ENDED


# --- signed in ---------------------------------------------------------------------------------


def test_any_signed_in_staff_member_opens_their_account_page(logged_in):
    for role in ("agent", "backoffice"):
        client, _ = logged_in(role)
        assert client.get("/account").status_code == 200


def test_a_role_without_the_permission_is_refused_with_403(logged_in):
    client, _ = logged_in("agent")
    response = client.get("/backoffice/")
    assert response.status_code == 403
    assert "You do not have access to this page" in response.get_data(as_text=True)


def test_a_view_needing_more_than_its_area_is_refused_with_403(logged_in):
    client, _ = logged_in("supervisor")
    assert client.get("/backoffice/").status_code == 200
    assert client.get("/backoffice/staff").status_code == 403


# --- the second factor not yet given -------------------------------------------------------------


def test_a_password_only_session_is_sent_to_the_code_page_from_everywhere(client, make_staff):
    user = make_staff("backoffice", mfa=True)
    password_only(client, user)
    for page in ("/backoffice/", "/account", "/account/password"):
        assert sent_to(client.get(page)) == ("/login/mfa", {}), page
    assert client.get("/login/mfa").status_code == 200


def test_a_password_only_session_without_an_authenticator_is_sent_to_enrol(client, make_staff):
    user = make_staff("backoffice", mfa=False)
    password_only(client, user)
    for page in ("/backoffice/", "/account"):
        assert sent_to(client.get(page)) == ("/account/mfa/setup", {}), page
    assert client.get("/account/mfa/setup").status_code == 200


def test_a_session_whose_role_came_to_need_a_second_factor_must_enrol_first(app_factory):
    """An agent signed in with a password alone; then AGENT_MFA_REQUIRED was turned on."""
    from tests.support.staff import create_staff_account

    before = app_factory(AGENT_MFA_REQUIRED=False)
    user = create_staff_account(before, "agent", "agent_before_mfa", mfa=False)
    old_client = before.test_client()
    login(old_client, user)
    assert old_client.get("/agent/").status_code == 200

    after = app_factory(AGENT_MFA_REQUIRED=True)
    client = after.test_client()
    name = after.config["SESSION_COOKIE_NAME"]
    client.set_cookie(name, old_client.get_cookie(name).value)
    for page in ("/agent/", "/account"):
        assert sent_to(client.get(page)) == ("/account/mfa/setup", {}), page
    assert client.get("/account/mfa/setup").status_code == 200


# --- a temporary password ----------------------------------------------------------------------


def test_a_temporary_password_opens_only_the_change_password_page(app, logged_in):
    client, user = logged_in("agent")
    update_staff(app, user.id, password_must_change=True)
    for page in ("/agent/", "/account"):
        assert sent_to(client.get(page)) == ("/account/password", {}), page
    assert client.get("/account/password").status_code == 200


def test_a_script_on_a_temporary_password_is_told_to_change_it(app, logged_in):
    client, user = logged_in("agent")
    update_staff(app, user.id, password_must_change=True)
    response = client.get("/agent/api/requests")
    assert response.status_code == 403
    assert response.get_json() == CHANGE_PASSWORD


# --- the decorators on a view of their own (outside any gated area) ------------------------------
# A new blueprint that forgot ``gate_blueprint`` relies on these alone.


def _probe(app, rule: str, decorated):
    app.add_url_rule(rule, rule.strip("/").replace("-", "_"), decorated)
    return rule


def _inside():
    return "inside"


def test_a_view_needing_a_permission_refuses_a_password_only_session_on_its_own(app, make_staff):
    from portal.security.authz import Permission
    from portal.security.guards import requires

    page = _probe(app, "/probe-requires", requires(Permission.BACKOFFICE_VIEW)(_inside))
    client = app.test_client()
    password_only(client, make_staff("backoffice", mfa=True))
    assert sent_to(client.get(page)) == ("/login/mfa", {})


def test_a_view_for_any_signed_in_staff_member_opens_only_after_the_second_factor(app, make_staff):
    from portal.security.guards import login_required

    page = _probe(app, "/probe-login-required", login_required(_inside))
    mfa_pages = _probe(app, "/probe-mfa-page", login_required(allow_partial=True)(_inside))
    assert sent_to(app.test_client().get(page)) == ("/login", {"next": [page]})

    client = app.test_client()
    user = make_staff("backoffice", mfa=True)
    password_only(client, user)
    assert sent_to(client.get(page)) == ("/login/mfa", {})
    assert client.get(mfa_pages).get_data(as_text=True) == "inside"

    login(client, user)
    assert client.get(page).get_data(as_text=True) == "inside"
