"""Every route x every role (and anonymous): who gets in is exactly what access_rules.py says.

Fast by design: one app and one sign-in per role, then every route with the same client. A new
route fails ``test_every_route_is_declared`` until someone decides, in access_rules.py, who may
use it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from werkzeug.routing import Rule

from portal.api_keys.scopes import SCOPES
from portal.security.authz import mfa_required
from tests.security.access_rules import (
    ALL_ROLES,
    API_KEY,
    BEARER_TOKEN,
    PUBLIC,
    ROUTE_ACCESS,
    SECOND_FACTOR_ROLES,
    STAFF,
)
from tests.support.api import make_api_key
from tests.support.metrics import METRICS_TOKEN, bearer
from tests.support.openid_provider import GROUP_FOR_ROLE, running_provider, sign_in_with_client
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, login, post_form

ANONYMOUS = "anonymous"
#: Public routes whose job includes sending the visitor to the sign-in page.
REDIRECTS_TO_LOGIN_BY_DESIGN = frozenset({"auth.index", "auth.logout"})
#: Routes a password-only session (second factor still to come) may use.
SECOND_FACTOR_PAGES = frozenset(
    {
        "auth.mfa_verify",
        "auth.mfa_setup",
        "auth.mfa_qr",
        "auth.passkey_second_factor_options",
        "auth.passkey_second_factor",
    }
)
#: Routes that end the session under test: requested last.
SESSION_ENDING = frozenset({"auth.logout"})


def _rules(app) -> list[Rule]:
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint in ROUTE_ACCESS]
    return sorted(rules, key=lambda rule: (rule.endpoint in SESSION_ENDING, rule.rule))


def _method(rule: Rule) -> str:
    return "GET" if "GET" in rule.methods else "POST"


def _url(app, rule: Rule) -> str:
    _, params = ROUTE_ACCESS[rule.endpoint]
    return app.url_map.bind("localhost").build(rule.endpoint, params, method=_method(rule))


def _is_api(audience) -> bool:
    """An ``/api/v1`` operation: ``(API_KEY, scope)``."""
    return isinstance(audience, tuple) and len(audience) == 2 and audience[0] == API_KEY


def _redirect_path(response) -> str | None:
    if response.status_code in (301, 302, 303, 307, 308):
        return urlsplit(response.headers["Location"]).path
    return None


def test_every_route_is_declared(app):
    """Proves: no route exists that review has not given an audience (public, any staff, or named
    roles) in access_rules.py; a new route fails here until it is declared."""
    undeclared = sorted(
        f"{rule.endpoint} ({rule.rule})"
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in ROUTE_ACCESS
    )
    assert not undeclared, (
        "These routes are not in tests/security/access_rules.py. Declare each one in "
        "ROUTE_ACCESS as  'endpoint': (audience, {path parameter: example value}), where the "
        "audience is PUBLIC, STAFF or a set of roles, so that review decides who may use it:\n  "
        + "\n  ".join(undeclared)
    )


def test_every_path_parameter_has_an_example_value(app):
    """Proves: every declared route can be walked by the matrix (each path parameter has an example)
    and names a known audience."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in ROUTE_ACCESS:
            continue
        audience, params = ROUTE_ACCESS[rule.endpoint]
        if set(rule.arguments) - set(params):
            missing.append(f"{rule.endpoint}: {sorted(set(rule.arguments) - set(params))}")
        assert (
            audience in (PUBLIC, STAFF, BEARER_TOKEN)
            or (_is_api(audience) and audience[1] in SCOPES)
            or (isinstance(audience, frozenset | set) and audience and audience <= ALL_ROLES)
        ), f"{rule.endpoint}: unknown audience {audience!r}"
    assert not missing, "Give example values in access_rules.py for: " + "; ".join(missing)


def _allowed(audience, who: str) -> bool:
    if audience == PUBLIC:
        return True
    if who == ANONYMOUS:
        return False
    return audience == STAFF or who in audience


def _problem(rule: Rule, audience, who: str, response, *, json: bool) -> str | None:
    """None if ``response`` is what ``who`` should get from ``rule``; otherwise why not."""
    status, location = response.status_code, _redirect_path(response)
    if status >= 500:
        return f"server error {status}"
    if _is_api(audience):  # no session opens it, whatever the role: 401 without a key
        return None if status == 401 else f"API route answered {status} without a key"
    if audience == BEARER_TOKEN:  # no session opens it: without its token, 404 or 401
        return None if status in (401, 404) else f"token-only route answered {status}"
    if audience == PUBLIC:
        if status in (401, 403):
            return f"public route answered {status}"
        if location == "/login" and rule.endpoint not in REDIRECTS_TO_LOGIN_BY_DESIGN:
            return "public route sent the visitor to the sign-in page"
        return None
    if who == ANONYMOUS:
        if json:
            return None if status == 401 else f"expected 401 for JSON, got {status} -> {location}"
        if location == "/login" or status == 401:
            return None
        return f"expected the sign-in page, got {status} -> {location}"
    if _allowed(audience, who):
        if status in (401, 403):
            return f"allowed role got {status}"
        if location in ("/login", "/login/mfa", "/account/mfa/setup"):
            return f"allowed role was sent to {location}"
        return None
    return None if status == 403 else f"expected 403, got {status} -> {location}"


def _walk(app, client, who: str, *, json: bool = False) -> list[str]:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    headers = {"Accept": "application/json"} if json else {}
    problems = []
    for rule in _rules(app):
        audience, _ = ROUTE_ACCESS[rule.endpoint]
        url, method = _url(app, rule), _method(rule)
        data = {"csrf_token": token} if method == "POST" else None
        response = client.open(url, method=method, data=data, headers=headers)
        problem = _problem(rule, audience, who, response, json=json)
        if problem:
            problems.append(f"{who:10} {method:4} {url:45} [{rule.endpoint}]: {problem}")
    return problems


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_each_role_reaches_exactly_its_routes(app, make_staff, role):
    """Proves: signed in as each role, every route answers as the matrix says: reachable where the
    role is in its audience, 403 everywhere else."""
    client = app.test_client()
    user = make_staff(role)  # enrolled in a second factor where the policy requires one
    assert user.mfa_enabled == (role in SECOND_FACTOR_ROLES)
    login(client, user)
    assert client.get("/account").status_code == 200
    problems = _walk(app, client, role)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("json", [False, True], ids=["html", "json"])
def test_anonymous_visitors_reach_only_public_routes(app, json):
    """Proves: without a session only public routes answer; every staff route sends a browser to
    sign in and answers a script with 401, never the page."""
    problems = _walk(app, app.test_client(), ANONYMOUS, json=json)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["backoffice", "agent"])
def test_a_password_only_session_reaches_only_the_second_factor_pages(app, make_staff, role):
    """Proves: after the password but before the TOTP code, a session reaches the second-factor
    pages and nothing else (PCI DSS 8.4.2)."""
    user = make_staff(role, mfa=True)
    client = app.test_client()
    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/login/mfa"
    token = csrf_from(client.get("/login").get_data(as_text=True))
    problems = []
    for rule in _rules(app):
        audience, _ = ROUTE_ACCESS[rule.endpoint]
        if _skips_sessions(audience) or rule.endpoint in SECOND_FACTOR_PAGES:
            continue
        url, method = _url(app, rule), _method(rule)
        data = {"csrf_token": token} if method == "POST" else None
        response = client.open(url, method=method, data=data)
        if _redirect_path(response) != "/login/mfa":
            problems.append(f"{method} {url} [{rule.endpoint}]: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert client.get("/login/mfa").status_code == 200


def test_every_role_that_reads_beyond_its_own_requests_needs_a_second_factor():
    """Proves: the product's policy (derived from each role's permissions) is the one review
    declared in access_rules.py; with AGENT_MFA_REQUIRED on, agents need one too; an unknown
    role fails closed."""
    assert {role for role in ALL_ROLES if mfa_required(role, agents=False)} == SECOND_FACTOR_ROLES
    assert all(mfa_required(role, agents=True) for role in ALL_ROLES)
    assert mfa_required("nobody", agents=False)


def _skips_sessions(audience) -> bool:
    """Routes no session is asked about: public ones, and those a token or an API key opens
    (a session there, partial or not, gets 401 like no session: see the role walk)."""
    return audience in (PUBLIC, BEARER_TOKEN) or _is_api(audience)


def _walk_without_second_factor(app, client) -> list[str]:
    """Every route that is not public and not a second-factor page, as ``client``; the
    problems, if any route answered other than with a redirect to the enrolment page."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    problems = []
    for rule in _rules(app):
        audience, _ = ROUTE_ACCESS[rule.endpoint]
        if _skips_sessions(audience) or rule.endpoint in SECOND_FACTOR_PAGES:
            continue
        url, method = _url(app, rule), _method(rule)
        for headers in ({}, {"Accept": "application/json"}):
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(url, method=method, data=data, headers=headers)
            if _redirect_path(response) != "/account/mfa/setup":
                problems.append(
                    f"{method} {url} [{rule.endpoint}] {headers}: {response.status_code}"
                )
    return problems


@pytest.mark.parametrize("role", [*sorted(SECOND_FACTOR_ROLES), "agent (AGENT_MFA_REQUIRED on)"])
def test_an_account_without_a_second_factor_reaches_only_enrolment(app_factory, make_staff, role):
    """Proves: a supervisor's, auditor's, back-office or admin's password alone (and an agent's,
    when the setting is on) reaches no transaction, personal data, audit log or export: every
    staff route sends it to enrol a second factor, and the sign-in is not complete."""
    app = app_factory(AGENT_MFA_REQUIRED=True) if role.startswith("agent") else app_factory()
    user = make_staff(role.split()[0], mfa=False)
    client = app.test_client()
    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/account/mfa/setup"
    problems = _walk_without_second_factor(app, client)
    assert not problems, "\n".join(problems)
    assert client.get("/account/mfa/setup").status_code == 200


def test_a_session_begun_before_agents_needed_a_second_factor_reaches_only_enrolment(
    app, make_staff
):
    """Proves: when AGENT_MFA_REQUIRED is turned on, an agent already signed in with a password
    alone is held at the enrolment page on the next request, not at the next sign-in."""
    client = app.test_client()
    login(client, make_staff("agent"))
    assert client.get("/agent/").status_code == 200

    app.config["AGENT_MFA_REQUIRED"] = True

    problems = _walk_without_second_factor(app, client)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", [ANONYMOUS, *sorted(ALL_ROLES)])
def test_the_metrics_endpoint_answers_its_token_and_no_session(app_factory, make_staff, role):
    """Proves: with a metrics token configured, no session of any role reaches /metrics
    without it (401), a wrong one is refused as well, and the token alone opens it."""
    app = app_factory(METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    if role != ANONYMOUS:
        login(client, make_staff(role))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(METRICS_TOKEN[:-1])).status_code == 401
    assert client.get("/metrics", headers=bearer()).status_code == 200


# --- /api/v1: by scope, with API keys ------------------------------------------------------------


def _api_rules(app) -> list[Rule]:
    return [rule for rule in _rules(app) if _is_api(ROUTE_ACCESS[rule.endpoint][0])]


def _api_status(app, client, rule: Rule, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    method = _method(rule)
    return client.open(
        _url(app, rule), method=method, json={} if method == "POST" else None, headers=headers
    ).status_code


def test_every_api_operation_is_declared_with_its_scope(app):
    """Proves: the scope review declared for each API route in access_rules.py is the one the
    operation enforces (portal.api.blueprint.needs_scope) and documents (its security)."""
    declared = {rule.endpoint: ROUTE_ACCESS[rule.endpoint][0][1] for rule in _api_rules(app)}
    enforced = {
        rule.endpoint: getattr(app.view_functions[rule.endpoint], "api_scope", None)
        for rule in _api_rules(app)
    }
    assert declared == enforced
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {
        f"api.{operation['operationId']}": operation["security"][0]["apiKey"][0]
        for operations in document["paths"].values()
        for method, operation in operations.items()
        if method != "parameters"
    }
    assert documented == declared


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_api_routes_answer_by_scope(app, scope):
    """Proves: every API route refuses a key without its scope (403) and lets a key with it
    through (neither 401 nor 403); with no key, or a revoked or made-up one, 401."""
    client = app.test_client()
    with_scope = make_api_key(app, scopes=[scope], name=f"has {scope}")
    others = [other for other in SCOPES if other != scope]
    without = make_api_key(app, scopes=others, name=f"lacks {scope}")
    problems = []
    for rule in _api_rules(app):
        needed = ROUTE_ACCESS[rule.endpoint][0][1]
        for key, expect in ((None, 401), (without[:-1] + "x", 401)):
            if (status := _api_status(app, client, rule, key)) != expect:
                problems.append(f"{rule.endpoint} key={key and key[:18]}: {status} not {expect}")
        status = _api_status(app, client, rule, with_scope)
        if needed == scope and status in (401, 403):
            problems.append(f"{rule.endpoint} with {scope}: {status}")
        if needed != scope and status != 403:
            problems.append(f"{rule.endpoint} needs {needed}, key has {scope}: {status} not 403")
        status = _api_status(app, client, rule, without)
        if needed == scope and status != 403:
            problems.append(f"{rule.endpoint} without {scope}: {status} not 403")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_a_staff_session_never_opens_the_api(app, make_staff, role):
    """Proves: signed in as any role, with CSRF token and all, an API route without a key
    answers 401 in the API's error shape: the session cookie authenticates nothing there."""
    client = app.test_client()
    login(client, make_staff(role))
    for rule in _api_rules(app):
        response = client.open(_url(app, rule), method=_method(rule), json={})
        assert response.status_code == 401, rule.endpoint
        assert response.get_json()["error"]["type"] == "authentication_error"


# --- single sign-on: the same matrix for people signed in through an OpenID Provider ---------


@pytest.fixture
def sso_provider(tmp_path):
    with running_provider(tmp_path / "idp") as provider:
        provider.register_portal("http://localhost", "testidp")
        yield provider


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_each_role_signed_in_through_single_sign_on_reaches_exactly_its_routes(
    app_factory, sso_provider, role
):
    """Proves: a person provisioned and signed in by the OpenID Provider (role from its groups,
    second factor proven there) reaches exactly the routes of that role, like a password user."""
    app = app_factory(SSO_PROVIDERS=[sso_provider.provider_setting("testidp", jit=True)])
    sso_provider.set_users(
        {
            f"sso-{role}": {
                "sub": f"sub-{role}",
                "password": "provider-password",
                "email": f"{role}@example.test",
                "name": f"SSO {role}",
                "groups": [GROUP_FOR_ROLE[role]],
                "amr": ["pwd", "mfa"],
            }
        }
    )
    client = app.test_client()
    response = sign_in_with_client(client, sso_provider, f"sso-{role}")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert client.get("/account").status_code == 200
    problems = _walk(app, client, role)
    assert not problems, "\n".join(problems)
