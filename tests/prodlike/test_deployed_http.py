"""Postern as deployed (tests/prodlike/stack.py), over HTTP(S) without a browser: what a load
balancer, a forged form and a plain-HTTP visitor get from production settings behind nginx."""

from __future__ import annotations

import re

import pytest
import requests


def test_a_post_without_referer_or_origin_is_refused_over_https(prodlike):
    """Proves: the CSRF Referer check is on in production: a post with a valid token and cookie
    but neither Referer nor Origin is refused as an expired form, and the same post naming our
    own origin is let through to the form."""
    browser = prodlike.https()
    page = browser.get(prodlike.url + "/login")
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.text)[1]
    form = {"username": "nobody", "password": "not the password", "csrf_token": token}
    bare = browser.post(prodlike.url + "/login", data=form, allow_redirects=False)
    assert bare.status_code == 400
    assert "This form has expired" in bare.text
    named = browser.post(
        prodlike.url + "/login",
        data=form,
        headers={"Referer": prodlike.url + "/login"},
        allow_redirects=False,
    )
    assert named.status_code == 401
    assert "This form has expired" not in named.text


@pytest.mark.parametrize("where", ["nginx's plain-HTTP listener", "gunicorn's own port"])
@pytest.mark.parametrize("probe", ["/healthz", "/readyz"])
def test_health_probes_answer_over_plain_http_without_a_redirect(prodlike, where, probe):
    """Proves: a load balancer probing over plain HTTP, at the proxy or at gunicorn, sees the
    instance as up (production once answered 301 to both)."""
    base = prodlike.http_url if where.startswith("nginx") else prodlike.gunicorn_url
    answer = requests.get(base + probe, allow_redirects=False, timeout=10)
    assert answer.status_code == 200, (answer.status_code, answer.headers.get("Location"))


def test_the_proxy_redirects_other_plain_http_requests_to_https(prodlike):
    answer = requests.get(prodlike.http_url + "/login", allow_redirects=False, timeout=10)
    assert answer.status_code == 301
    assert answer.headers["Location"].startswith("https://")
