"""Postern as deployed (tests/prodlike/stack.py): a forged Host through nginx and gunicorn is
answered 400 with our words, never a 500, while the probes still answer any Host."""

from __future__ import annotations

import pytest
import requests

#: nginx passes on $host, the name without its port, so a bad port never reaches the app here
#: (tests/security/test_untrusted_host.py sends one straight to the app).
FORGED = ("evil.example", "localhost.evil.example", "xn--zz")


@pytest.mark.parametrize("host", FORGED)
def test_a_forged_host_gets_400_through_the_proxy(prodlike, host):
    """Proves: nginx passes the Host on (its one HTTPS server is the default), and the app
    refuses it on a page, the console's JSON poll and a form post."""
    browser = prodlike.https()
    page = browser.get(prodlike.url + "/login", headers={"Host": host}, allow_redirects=False)
    assert page.status_code == 400
    assert "This web address is not one we answer to" in page.text
    assert "Content-Security-Policy" in page.headers
    poll = browser.get(prodlike.url + "/agent/api/requests", headers={"Host": host})
    assert poll.status_code == 400
    assert poll.json() == {"error": 400, "message": "This web address is not one we answer to"}
    form = browser.post(prodlike.url + "/login", data={"username": "x"}, headers={"Host": host})
    assert form.status_code == 400
    assert browser.get(prodlike.url + "/login").status_code == 200


@pytest.mark.parametrize("probe", ["/healthz", "/readyz"])
def test_probes_at_gunicorn_answer_any_host(prodlike, probe):
    answer = requests.get(
        prodlike.gunicorn_url + probe, headers={"Host": "10.0.4.17:8000"}, timeout=10
    )
    assert answer.status_code == 200
