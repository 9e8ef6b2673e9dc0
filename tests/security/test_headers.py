"""Security headers on every kind of response: pages, errors, static files, JSON, redirects."""

from __future__ import annotations

import re

import pytest

from tests.support.web import login, post_form

NONCE = re.compile(r"'nonce-([A-Za-z0-9_\-]{16,})'")


def parse_csp(header: str) -> dict[str, list[str]]:
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in policy, f"directive {words[0]} given twice"
            policy[words[0]] = words[1:]
    return policy


def assert_security_headers(response, *, cacheable: bool = False, https: bool = False) -> None:
    headers = response.headers
    csp = parse_csp(headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert NONCE.fullmatch(csp["script-src"][-1]), csp["script-src"]
    for sources in csp.values():
        for source in sources:
            assert "unsafe" not in source, source
            assert (
                source not in ("*", "data:") or source == "data:" and sources is csp.get("img-src")
            ), source
    assert "Content-Security-Policy-Report-Only" not in headers
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    permissions = headers["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in permissions
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert re.fullmatch(r"[A-Za-z0-9\-]{8,64}", headers["X-Request-ID"])
    if cacheable:
        assert "no-store" not in headers.get("Cache-Control", "")
    else:
        assert headers["Cache-Control"] == "no-store"
        assert headers["Pragma"] == "no-cache"
    if https:
        hsts = headers["Strict-Transport-Security"]
        max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))
        assert max_age >= 31536000 and "includeSubDomains" in hsts
    else:
        assert "Strict-Transport-Security" not in headers


@pytest.fixture
def app_with_a_failing_route(app_factory):
    app = app_factory()

    @app.get("/test-only/boom")
    def boom():
        raise RuntimeError("boom")

    return app


@pytest.mark.parametrize("https", [False, True])
def test_every_kind_of_response_carries_the_headers(app_with_a_failing_route, https):
    """Proves: pages, redirects, JSON, errors and crashes, over HTTP and HTTPS, all carry the
    security headers (CSP, HSTS on HTTPS, nosniff, frame and referrer policy, no-store)."""
    base = "https://localhost" if https else "http://localhost"
    client = app_with_a_failing_route.test_client()
    statuses = {}
    for kind, response in _responses_over(client, base):
        statuses[kind] = response.status_code
        try:
            assert_security_headers(response, https=https)
        except AssertionError as problem:
            raise AssertionError(f"{kind} ({response.status_code}): {problem}") from None
    assert statuses == {
        "page": 200,
        "redirect": 302,
        "redirect to login": 302,
        "404": 404,
        "405": 405,
        "json": 200,
        "json 401": 401,
        "readyz": 200,
        "csrf": 400,
        "413": 413,
        "500": 500,
    }


def _responses_over(client, base):
    yield "page", client.get("/login", base_url=base)
    yield "redirect", client.get("/", base_url=base)
    yield "redirect to login", client.get("/agent/", base_url=base)
    yield "404", client.get("/no-such-page", base_url=base)
    yield "405", client.get("/logout", base_url=base)
    yield "json", client.get("/healthz", base_url=base)
    yield "json 401", client.get("/agent/", headers={"Accept": "application/json"}, base_url=base)
    yield "readyz", client.get("/readyz", base_url=base)
    yield "csrf", client.post("/login", data={"username": "a", "password": "b"}, base_url=base)
    yield "413", client.post("/login", data={"username": "x" * (300 * 1024)}, base_url=base)
    yield "500", client.get("/test-only/boom", base_url=base)


def test_static_files_carry_the_headers_and_may_be_cached(client):
    """Proves: static files carry the same security headers but, unlike pages, may be cached."""
    for base in ("http://localhost", "https://localhost"):
        response = client.get("/static/css/app.css", base_url=base)
        assert response.status_code == 200
        assert_security_headers(response, cacheable=True, https=base.startswith("https"))


def test_signed_in_pages_carry_the_headers(client, make_staff):
    """Proves: the pages a signed-in agent sees carry the security headers and are never cached."""
    login(client, make_staff("agent"))
    for path in ("/agent/", "/account", "/account/password", "/account/mfa/setup"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_security_headers(response)


def test_the_rate_limited_answer_carries_the_headers(client):
    """Proves: even the 429 from the login rate limit carries the security headers."""
    for _ in range(11):
        response = post_form(client, "/login", {"username": "same", "password": "wrong password"})
    assert response.status_code == 429
    assert_security_headers(response)


def test_each_response_gets_its_own_nonce_and_scripts_use_it(client, make_staff):
    """Proves: every response has a fresh CSP nonce and every script tag on every page carries it
    (no inline script runs without it)."""
    nonces = set()
    for _ in range(3):
        header = client.get("/login").headers["Content-Security-Policy"]
        nonces.add(NONCE.search(header).group(1))
    assert len(nonces) == 3
    login(client, make_staff("supervisor"))
    for path in ("/login", "/agent/", "/backoffice/", "/account"):
        response = client.get(path)
        nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
        page = response.get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert f'nonce="{nonce}"' in tag, (path, tag)
            assert "src=" in tag, f"inline script on {path}: {tag}"
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", page), f"inline script on {path}"
        assert not re.search(r"\sstyle\s*=", page), f"inline style attribute on {path}"
        assert not re.search(r"<style\b", page), f"<style> element on {path}"
        assert not re.search(r"\son[a-z]+\s*=", page), f"event handler attribute on {path}"


def test_a_valid_incoming_request_id_is_kept_and_a_hostile_one_replaced(client):
    """Proves: a well-formed X-Request-ID from the proxy is kept for tracing; a malformed one (too
    short or long, spaces, header injection, a trailing newline) is replaced."""
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-123-def-456"})
    assert kept.headers["X-Request-ID"] == "abc-123-def-456"
    for hostile in ("short", "has spaces in it", "x" * 65, "evil\\u000d\\u000aSet-Cookie:"):
        replaced = client.get("/healthz", headers={"X-Request-ID": hostile})
        assert replaced.headers["X-Request-ID"] != hostile
        assert re.fullmatch(r"[0-9a-f]{16}", replaced.headers["X-Request-ID"])
    # A trailing newline slips past a ^...$ pattern and would break the response header.
    sneaky = client.get("/healthz", environ_base={"HTTP_X_REQUEST_ID": "abcdefgh\n"})
    assert sneaky.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{16}", sneaky.headers["X-Request-ID"])


def test_plain_http_is_redirected_to_https_where_configured(app_factory):
    """Proves: with FORCE_HTTPS, plain HTTP is answered 301 to the same address over HTTPS, query
    string included."""
    app = app_factory(FORCE_HTTPS=True)
    response = app.test_client().get("/login?x=1")
    assert response.status_code == 301
    assert response.headers["Location"] == "https://localhost/login?x=1"
    assert app.test_client().get("/login", base_url="https://localhost").status_code == 200


def test_one_apps_header_settings_do_not_leak_into_another(app_factory):
    """Proves: header settings are per app: a second app's HSTS max-age does not change the
    first's."""
    relaxed = app_factory()
    app_factory(FORCE_HTTPS=True, HSTS_MAX_AGE=5)
    assert relaxed.test_client().get("/healthz").status_code == 200
    hsts = relaxed.test_client().get("/healthz", base_url="https://localhost").headers
    assert "max-age=63072000" in hsts["Strict-Transport-Security"]


def test_the_payment_page_takes_its_headers_from_the_app_serving_it(app_factory):
    """Proves: the payment page's per-view header options are worked out for the app serving
    each request, never kept from the first app that served it (Flask-Talisman fills a view's
    options in once, and every app in the process shares the view): an app that forces HTTPS
    and names one Stripe leaves neither its redirect nor its Stripe origin to the next app."""
    from portal.security.headers import EXTENSION

    strict = app_factory(
        FORCE_HTTPS=True, STRIPE_JS_URL="https://js.one.example/v3/",
        STRIPE_API_BASE="https://api.one.example",
    )  # fmt: skip
    relaxed = app_factory(
        STRIPE_JS_URL="https://js.two.example/v3/", STRIPE_API_BASE="https://api.two.example"
    )
    pay_path = "/c/not-a-real-token/pay"

    assert strict.test_client().get(pay_path).status_code == 301
    over_https = strict.test_client().get(pay_path, base_url="https://localhost")
    answer = relaxed.test_client().get(pay_path)

    assert "https://js.one.example" in over_https.headers["Content-Security-Policy"]
    assert answer.status_code != 301
    policy = parse_csp(answer.headers["Content-Security-Policy"])
    assert "https://js.two.example" in policy["script-src"]
    assert "https://api.two.example" in policy["connect-src"]
    assert "one.example" not in answer.headers["Content-Security-Policy"]
    assert any(NONCE.fullmatch(source) for source in policy["script-src"])
    assert relaxed.extensions[EXTENSION] is not strict.extensions[EXTENSION]
    assert strict.test_client().get(pay_path).status_code == 301
