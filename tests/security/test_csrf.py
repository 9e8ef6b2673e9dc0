"""CSRF: every POST route refuses a missing, wrong or foreign token, bar the listed exemptions."""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule

from portal.security.csrf import CSRF_EXEMPT_BLUEPRINTS, CSRF_EXEMPT_VIEWS
from tests.security.access_rules import ROUTE_ACCESS
from tests.support.web import csrf_from, login, post_form

EXPIRED = "This form has expired"
#: Exempt from CSRFProtect because they check a token of their own, refused the same way
#: (a 400 saying the page or form expired), in their own words.
OWN_TOKEN_VIEWS = {"customer.start": "This page has expired. Please press Start again."}


def _exempt(rule: Rule) -> bool:
    return (
        rule.endpoint.split(".", 1)[0] in CSRF_EXEMPT_BLUEPRINTS
        or rule.endpoint in CSRF_EXEMPT_VIEWS
    ) and rule.endpoint not in OWN_TOKEN_VIEWS


def post_rules(app) -> list[Rule]:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "POST" in rule.methods),
        key=lambda rule: rule.rule,
    )


def url_for_rule(app, rule: Rule) -> str:
    params = ROUTE_ACCESS.get(rule.endpoint, (None, {}))[1]
    values = {name: params.get(name, "1") for name in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, values, method="POST")


def assert_refused_as_expired(response, where: str, words: str = EXPIRED) -> None:
    assert response.status_code == 400, f"{where}: {response.status_code}"
    if response.is_json:
        assert response.get_json()["message"] == words, where
    else:
        assert words in response.get_data(as_text=True), where


def test_there_are_post_routes_to_check(app):
    """Proves: the CSRF walk below really covers the sign-in, sign-out, MFA and password forms (it
    cannot pass by finding no routes)."""
    protected = [rule for rule in post_rules(app) if not _exempt(rule)]
    assert {"auth.login", "auth.logout", "auth.mfa_verify", "auth.change_password"} <= {
        rule.endpoint for rule in protected
    }


def test_only_signed_requests_are_exempt_and_each_exemption_says_why():
    # csp_reports: browsers' CSP violation reports, the one unsigned exemption (append-only,
    # non-personal evidence; see portal/csp_reports/views.py).
    """Proves: the CSRF exemptions are the signed webhook and API blueprints and the CSP report
    sink, each with its reason written down."""
    assert set(CSRF_EXEMPT_BLUEPRINTS) <= {"webhooks", "api", "csp_reports"}
    assert all(len(reason) > 20 for reason in CSRF_EXEMPT_BLUEPRINTS.values())
    # The exempt views: single sign-on's back-channel logout, authorised by the provider's
    # signed logout token (tests/functional/test_single_sign_on.py), and the customer's Start,
    # whose token is bound to the link (tests/functional/test_customer_start_csrf.py).
    assert set(CSRF_EXEMPT_VIEWS) <= {"auth.sso_backchannel_logout", *OWN_TOKEN_VIEWS}
    assert all(len(reason) > 20 for reason in CSRF_EXEMPT_VIEWS.values())


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_post_route_refuses_a_missing_or_wrong_token(app, make_staff, signed_in):
    """Proves: every POST route outside the exemptions (Start, which checks its own token,
    included) refuses a request without a token or with a forged one, signed in or not, with
    the friendly expired-form page."""
    client = app.test_client()
    if signed_in:
        login(client, make_staff("supervisor"))
    real_token = csrf_from(client.get("/login").get_data(as_text=True))
    for rule in post_rules(app):
        if _exempt(rule):
            continue
        url = url_for_rule(app, rule)
        where = f"POST {url} ({rule.endpoint})"
        words = OWN_TOKEN_VIEWS.get(rule.endpoint, EXPIRED)
        assert_refused_as_expired(client.post(url, data={}), where + " without a token", words)
        wrong = real_token[:-4] + ("AAAA" if not real_token.endswith("AAAA") else "BBBB")
        assert_refused_as_expired(client.post(url, data={"csrf_token": wrong}), where, words)
        assert_refused_as_expired(
            client.post(url, data={}, headers={"X-CSRFToken": "not-a-token"}), where, words
        )
        assert_refused_as_expired(
            client.post(url, json={"csrf_token": real_token}),
            where + " (token in JSON body)",
            words,
        )
    # The session survived all that: nothing was changed by a refused request.
    if signed_in:
        assert client.get("/account").status_code == 200


def test_a_token_from_another_browser_is_refused(app, make_staff):
    """Proves: a token taken from another session (an attacker's own page) does not work in the
    victim's browser, and the victim stays signed in."""
    victim, attacker = app.test_client(), app.test_client()
    login(victim, make_staff("agent"))
    attackers_token = csrf_from(attacker.get("/login").get_data(as_text=True))
    response = victim.post("/logout", data={"csrf_token": attackers_token})
    assert_refused_as_expired(response, "logout with a foreign token")
    assert victim.get("/agent/").status_code == 200


def test_the_token_may_travel_in_a_header_for_scripts(app, make_staff):
    """Proves: the console's scripts may send the token as X-CSRFToken instead of a form field."""
    client = app.test_client()
    login(client, make_staff("agent"))
    token = csrf_from(client.get("/account").get_data(as_text=True))
    response = client.post("/logout", headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert client.get("/agent/").status_code == 302


def test_the_expired_form_page_is_friendly_and_keeps_the_user_signed_in(app, make_staff):
    """Proves: a refused form says in plain words to reload the page, never mentions CSRF, and does
    not sign the user out."""
    client = app.test_client()
    login(client, make_staff("agent"))
    response = client.post("/account/password", data={"current_password": "x"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert EXPIRED in page and "reload the page" in page
    assert "CSRF" not in page and "csrf" not in page.lower().replace("csrf_token", "")
    assert client.get("/account").status_code == 200


def test_over_https_a_cross_site_referer_is_refused(app_factory, make_staff):
    """Proves: over HTTPS a POST with no Referer, another site's, or a plain-HTTP one is refused
    even with a valid token; the same site's is accepted."""
    app = app_factory(WTF_CSRF_SSL_STRICT=True)
    user = make_staff("agent")
    client = app.test_client()
    https = "https://localhost"
    token = csrf_from(client.get("/login", base_url=https).get_data(as_text=True))
    data = {"username": user.username, "password": "x" * 12, "csrf_token": token}
    for referer in (None, "https://evil.example/login", "http://localhost/login"):
        headers = {"Referer": referer} if referer else {}
        response = client.post("/login", data=data, headers=headers, base_url=https)
        assert_refused_as_expired(response, f"referer {referer}")
    same_site = client.post(
        "/login", data=data, headers={"Referer": "https://localhost/login"}, base_url=https
    )
    assert same_site.status_code == 401  # reached the password check


def test_exempt_blueprints_are_not_refused_for_a_missing_token(app):
    """Proves: the exempt routes really are exempt (they answer for themselves, e.g. a bad
    signature, not with the CSRF page)."""
    client = app.test_client()
    for rule in post_rules(app):
        if _exempt(rule):
            response = client.post(url_for_rule(app, rule), data=b"{}")
            assert EXPIRED not in response.get_data(as_text=True), rule.endpoint


def test_post_form_helper_really_sends_the_pages_token(client, make_staff):
    """The fixtures post real forms: the same token a browser would send."""
    user = make_staff("agent")
    response = post_form(client, "/login", {"username": user.username, "password": "x" * 12})
    assert response.status_code == 401


HTTPS = "https://localhost"


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({}, False),  # no Referer and no Origin: a forged post from a page that hid both
        ({"Referer": "https://evil.example/login"}, False),
        ({"Referer": "http://localhost/login"}, False),  # same host, but not over HTTPS
        ({"Referer": HTTPS + "/login"}, True),  # what Referrer-Policy: same-origin sends
    ],
)
def test_a_form_posted_over_https_needs_a_referer_from_our_own_origin(app, headers, accepted):
    """Proves: over HTTPS a form with a valid token is still refused unless the browser names our
    own origin as the Referer (WTF_CSRF_SSL_STRICT, on in tests as in production), and accepted
    when it does, as a browser under Referrer-Policy: same-origin does."""
    client = app.test_client()
    token = csrf_from(client.get("/login", base_url=HTTPS).get_data(as_text=True))
    response = client.post(
        "/login",
        base_url=HTTPS,
        data={"username": "nobody", "password": "not the password", "csrf_token": token},
        headers=headers,
    )
    if accepted:
        assert response.status_code == 401  # the form itself answered: wrong password
        assert EXPIRED not in response.get_data(as_text=True)
    else:
        assert_refused_as_expired(response, str(headers))
