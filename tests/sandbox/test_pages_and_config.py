"""The Stripe.js files and iframe pages over plain HTTP, and the sandbox's own safety settings."""

from __future__ import annotations

import pytest

from stripe_sandbox import SandboxSettings, create_app
from stripe_sandbox.config import is_loopback_host


def test_stripe_js_is_served_as_a_script(sandbox, http):
    answer = http.get(sandbox.js_url)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/javascript")
    assert "window.Stripe = Stripe" in answer.text
    assert "eval(" not in answer.text and "innerHTML" not in answer.text


def test_card_frame_has_its_own_strict_csp(sandbox, http):
    answer = http.get(f"{sandbox.url}/v3/elements-inner-card.html")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy
    assert "frame-ancestors http://127.0.0.1:* http://localhost:*" in policy
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    page = answer.text
    assert 'autocomplete="cc-number"' in page and 'autocomplete="cc-exp"' in page
    assert 'role="alert"' in page
    assert "style=" not in page and "<script>" not in page


def test_frame_ancestors_follow_configuration():
    app = create_app(SandboxSettings(allowed_frame_ancestors="https://pay.example.org"))
    answer = app.test_client().get("/v3/elements-inner-card.html")
    assert "frame-ancestors https://pay.example.org;" in (
        answer.headers["Content-Security-Policy"] + ";"
    )
    app.extensions["stripe_sandbox"].close()


def test_only_known_assets_are_served(sandbox, http):
    assert http.get(f"{sandbox.url}/v3/assets/card-frame.css").status_code == 200
    assert http.get(f"{sandbox.url}/v3/assets/../app.py").status_code == 404
    assert http.get(f"{sandbox.url}/v3/assets/stripe_fixtures.json").status_code == 404


def test_control_switches_refuse_remote_callers():
    app = create_app()
    remote = app.test_client()
    remote.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert remote.post("/_sandbox/reset").status_code == 403
    local = app.test_client()
    assert local.post("/_sandbox/reset").status_code == 200
    app.extensions["stripe_sandbox"].close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("localhost", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),  # noqa: S104 - the address being refused
        ("10.0.0.1", False),
        ("example.org", False),
    ],
)
def test_loopback_detection(host, loopback):
    assert is_loopback_host(host) is loopback


def test_live_keys_are_refused():
    with pytest.raises(ValueError, match="test-mode"):
        SandboxSettings(secret_key="sk_live_abc")
    with pytest.raises(ValueError, match="signing secret"):
        SandboxSettings(webhook_url="http://127.0.0.1:9/hook")
