"""Drift detection on a snapshot of the payment page (no network: snapshots built by hand)."""

from __future__ import annotations

import copy

from portal.payment_page.inventory import Inventory, InventoryScript
from portal.payment_page.page_check import (
    Script,
    Snapshot,
    drift,
    parse_csp,
    scripts_in,
)

STRIPE = "https://js.stripe.com/v3/"
PAY_JS = "/static/js/customer/pay.js"
CSP = (
    "default-src 'none'; script-src 'self' https://js.stripe.com 'nonce-{n}'; "
    "frame-src https://js.stripe.com; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'; report-uri /csp-report"
)
PERMISSIONS = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    'microphone=(), payment=(self "https://js.stripe.com"), usb=(), interest-cohort=()'
)
INVENTORY = Inventory(
    "/c/<token>/pay",
    (
        InventoryScript("stripe-js", STRIPE, "Stripe", "card form", "origin-pinned"),
        InventoryScript("pay-js", PAY_JS, "Postern", "page", "sri"),
    ),
    frozenset(),
)


def snapshot(nonce="abc", **header_overrides) -> Snapshot:
    headers = {
        "Content-Security-Policy": CSP.format(n=nonce),
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
        "Permissions-Policy": PERMISSIONS,
        **header_overrides,
    }
    scripts = [
        Script(STRIPE),
        Script(PAY_JS, "sha384-AAA", "anonymous", "sha384-AAA"),
    ]
    return Snapshot("/c/<token>/pay", headers, scripts)


def test_the_nonce_differs_per_response_and_is_not_drift():
    assert parse_csp("script-src 'self' 'nonce-XyZ'") == {"script-src": ["'nonce-*'", "'self'"]}
    assert drift(snapshot("one"), INVENTORY, snapshot("two"), https=True) == []


def test_a_weakened_csp_is_named():
    weak = snapshot(**{"Content-Security-Policy": CSP.format(n="x") + "; script-src-attr *"})
    weak.headers["Content-Security-Policy"] = (
        weak.headers["Content-Security-Policy"]
        .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
        .replace("frame-ancestors 'none'", "frame-ancestors *")
    )
    problems = drift(weak, INVENTORY, snapshot(), https=True)
    assert "CSP script-src allows 'unsafe-inline'" in problems
    assert "CSP frame-ancestors is ['*'], must be [\"'none'\"]" in problems
    assert "CSP script-src gained 'unsafe-inline'" in problems
    assert "CSP frame-ancestors lost 'none'" in problems
    assert "CSP directive script-src-attr was added: ['*']" in problems


def test_payment_may_be_allowed_to_stripes_frames_only():
    """Wallets need ``payment`` for Stripe.js's frames; nothing else may get it, and every
    other feature stays off."""
    assert drift(snapshot(), INVENTORY, None, https=True) == []
    wider = PERMISSIONS.replace(
        '"https://js.stripe.com"', '"https://js.stripe.com" "https://evil.example"'
    )
    problems = drift(snapshot(**{"Permissions-Policy": wider}), INVENTORY, snapshot(), https=True)
    assert (
        "Permissions-Policy lets https://evil.example use payment: only the page and the "
        "frames its CSP admits (Stripe) may"
    ) in problems
    assert any(line.startswith("header Permissions-Policy changed") for line in problems)
    anyone = PERMISSIONS.replace('payment=(self "https://js.stripe.com")', "payment=*")
    assert (
        "Permissions-Policy lets * use payment"
        in drift(snapshot(**{"Permissions-Policy": anyone}), INVENTORY, None, https=True)[0]
    )
    camera = PERMISSIONS.replace("camera=()", "camera=(self)")
    assert drift(snapshot(**{"Permissions-Policy": camera}), INVENTORY, None, https=True) == [
        "Permissions-Policy allows camera (self)"
    ]
    dropped = PERMISSIONS.replace("usb=(), ", "")
    assert drift(snapshot(**{"Permissions-Policy": dropped}), INVENTORY, None, https=True) == [
        "Permissions-Policy no longer switches usb off"
    ]
    for broken in (None, "payment=self garbage(", ""):
        assert drift(snapshot(**{"Permissions-Policy": broken}), INVENTORY, None, https=True) == [
            "header Permissions-Policy is missing or unreadable"
        ]


def test_a_removed_or_changed_header_is_named():
    problems = drift(
        snapshot(**{"Strict-Transport-Security": None, "Referrer-Policy": "origin"}),
        INVENTORY,
        snapshot(),
        https=True,
    )
    assert "header Strict-Transport-Security is missing" in problems
    assert "header Referrer-Policy is not same-origin" in problems
    assert any(
        p.startswith("header Referrer-Policy changed: 'same-origin' -> 'origin'") for p in problems
    )


def test_a_changed_script_is_named():
    changed = snapshot()
    changed.scripts[1].served_sha384 = "sha384-BBB"
    problems = drift(changed, INVENTORY, snapshot(), https=True)
    assert any("does not match its integrity attribute" in p for p in problems)
    assert f"script {PAY_JS} changed since the baseline: sha384-AAA -> sha384-BBB" in problems


def test_an_added_script_or_inline_script_is_named():
    tampered = snapshot()
    tampered.scripts.append(Script("https://evil.example/skim.js"))
    tampered.scripts.append(Script(None, served_sha384="sha384-INLINE"))
    problems = drift(tampered, INVENTORY, snapshot(), https=True)
    assert "script not in the inventory: https://evil.example/skim.js" in problems
    assert "inline script not in the inventory (sha384-INLINE)" in problems
    assert "script added since the baseline: https://evil.example/skim.js" in problems


def test_a_missing_integrity_attribute_or_script_is_named():
    stripped = snapshot()
    stripped.scripts[1] = Script(PAY_JS, None, None, "sha384-AAA")
    del stripped.scripts[0]
    problems = drift(stripped, INVENTORY, snapshot(), https=True)
    assert f"script {PAY_JS} has no integrity attribute" in problems
    assert f"inventory script stripe-js ({STRIPE}) is not on the page" in problems
    assert f"script removed since the baseline: {STRIPE}" in problems


def test_the_baseline_round_trips_through_json():
    original = snapshot()
    assert Snapshot.from_json(copy.deepcopy(original.to_json())) == original


def test_script_tags_are_read_like_a_browser_would():
    html = (
        '<script src="https://js.stripe.com/v3/" nonce="n"></script>'
        '<script src="/static/js/customer/pay.js?v=1" integrity="sha384-X" '
        'crossorigin="anonymous" nonce="n"></script>'
        "<script>alert(1)</script>"
    )
    found = scripts_in(html, "https://pay.example/c/TOKEN/pay")
    assert [(s.src, url) for s, url in found] == [
        ("https://js.stripe.com/v3/", None),
        ("/static/js/customer/pay.js?v=1", "https://pay.example/static/js/customer/pay.js?v=1"),
        (None, None),
    ]
    assert found[1][0].integrity == "sha384-X" and found[2][0].served_sha384.startswith("sha384-")
