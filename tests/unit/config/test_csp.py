"""The Content Security Policy as data."""

from __future__ import annotations

import pytest

from config import csp


def _all_sources(policy: dict[str, list[str]]) -> list[str]:
    return [source for sources in policy.values() for source in sources]


def test_the_base_policy_denies_by_default_and_allows_nothing_inline():
    policy = csp.base_policy()
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    for source in _all_sources(policy):
        assert "unsafe" not in source
        assert source != "*" and not source.startswith("http:")
    assert "script-src" in csp.NONCE_DIRECTIVES


def test_the_base_policy_is_a_fresh_copy_each_time():
    first = csp.base_policy()
    first["script-src"].append("https://evil.example")
    assert "https://evil.example" not in csp.base_policy()["script-src"]
    assert "https://evil.example" not in csp.BASE_POLICY["script-src"]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://js.stripe.com/v3/", "https://js.stripe.com"),
        ("http://127.0.0.1:12111/v3/", "http://127.0.0.1:12111"),
        ("https://api.stripe.com", "https://api.stripe.com"),
        ("/relative/path", None),
        ("", None),
        ("js.stripe.com/v3", None),
    ],
)
def test_origin_of(url, origin):
    assert csp.origin_of(url) == origin


def test_payment_pages_add_only_the_configured_stripe_origins():
    policy = csp.payment_page_policy("https://js.stripe.com/v3/", "https://api.stripe.com")
    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["frame-src"] == [
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    assert set(policy["connect-src"]) == {
        "'self'",
        "https://js.stripe.com",
        "https://api.stripe.com",
    }
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    for source in _all_sources(policy):
        assert "unsafe" not in source


def test_the_sandbox_gets_its_own_origin_and_no_hooks_frame():
    policy = csp.payment_page_policy("http://127.0.0.1:12111/v3/", "http://127.0.0.1:12111")
    assert policy["script-src"] == ["'self'", "http://127.0.0.1:12111"]
    assert policy["frame-src"] == ["http://127.0.0.1:12111"]
    assert policy["connect-src"].count("http://127.0.0.1:12111") == 1


def test_the_permissions_policy_switches_off_powerful_features():
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert csp.PERMISSIONS_POLICY[feature] == "()"
