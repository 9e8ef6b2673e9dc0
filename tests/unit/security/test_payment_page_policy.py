"""A view marked ``@payment_page`` gets the CSP that admits the serving app's Stripe, with the
per-response nonce; every other page keeps the base policy, and every other header is the
app's usual one."""

from __future__ import annotations

import re

from portal.security.headers import payment_page

NONCE = re.compile(r"'nonce-[A-Za-z0-9_\-]{16,}'")


def _policy(response) -> dict[str, list[str]]:
    policy = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


def _app_with_a_payment_page(app_factory, view, **settings):
    app = app_factory(**settings)
    app.add_url_rule("/test-only/pay", "test_only_pay", view)
    app.add_url_rule("/test-only/plain", "test_only_plain", lambda: "plain")
    return app


def test_a_payment_page_admits_the_serving_apps_stripe_and_nothing_else_does(app_factory):
    view = payment_page(lambda: "pay here")  # marked now, as the app's own view is at import
    app = _app_with_a_payment_page(
        app_factory,
        view,
        STRIPE_JS_URL="https://js.sandbox.example/v3/",
        STRIPE_API_BASE="https://api.sandbox.example",
    )
    client = app.test_client()

    paying = client.get("/test-only/pay")
    assert paying.status_code == 200
    policy = _policy(paying)
    assert "https://js.sandbox.example" in policy["script-src"]
    assert any(NONCE.fullmatch(source) for source in policy["script-src"])
    assert policy["frame-src"] == ["https://js.sandbox.example"]
    assert "https://api.sandbox.example" in policy["connect-src"]
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert paying.headers["X-Frame-Options"] == "DENY"
    assert paying.headers["Cache-Control"] == "no-store"

    plain = client.get("/test-only/plain")
    assert "sandbox.example" not in plain.headers["Content-Security-Policy"]
    assert "frame-src" not in _policy(plain)
    assert any(NONCE.fullmatch(source) for source in _policy(plain)["script-src"])


def test_one_payment_view_serves_each_app_its_own_stripe(app_factory):
    view = payment_page(lambda: "pay here")
    one = _app_with_a_payment_page(
        app_factory, view, STRIPE_JS_URL="https://js.one.example/v3/",
        STRIPE_API_BASE="https://api.one.example",
    )  # fmt: skip
    two = _app_with_a_payment_page(
        app_factory, view, STRIPE_JS_URL="https://js.two.example/v3/",
        STRIPE_API_BASE="https://api.two.example",
    )  # fmt: skip
    for app, mine, theirs in ((one, "one", "two"), (two, "two", "one"), (one, "one", "two")):
        header = app.test_client().get("/test-only/pay").headers["Content-Security-Policy"]
        assert f"https://js.{mine}.example" in header and f"https://api.{mine}.example" in header
        assert f"{theirs}.example" not in header
