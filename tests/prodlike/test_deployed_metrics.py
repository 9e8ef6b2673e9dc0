"""/metrics as deployed: nginx refuses it to any address but its own host's (the app is never
reached), and gunicorn answers it at the instance's own address, whatever the Host, for a
scraper on the private network. (The stack sets no metrics token, so the app's answer is its
404: "no such page".)"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter


class _From(HTTPAdapter):
    """Connections from a given local address: 127.0.0.2 is this host too, but not the
    address nginx allows."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def _through_nginx(prodlike, source: str):
    browser = prodlike.https()
    browser.mount("https://", _From(source))
    return browser.get(prodlike.url + "/metrics", allow_redirects=False, timeout=10)


def test_nginx_refuses_metrics_to_other_addresses(prodlike):
    refused = _through_nginx(prodlike, "127.0.0.2")
    assert refused.status_code == 403
    assert "Content-Security-Policy" not in refused.headers  # nginx's answer, not the app's
    passed = _through_nginx(prodlike, "127.0.0.1")
    assert passed.status_code == 404
    assert "Content-Security-Policy" in passed.headers  # the app's own "no such page"


def test_gunicorn_answers_metrics_at_the_instance_address(prodlike):
    answer = requests.get(
        prodlike.gunicorn_url + "/metrics", headers={"Host": "10.0.4.17:8000"}, timeout=10
    )
    assert answer.status_code == 404  # the Host was accepted; no token is configured
    login = requests.get(
        prodlike.gunicorn_url + "/login", headers={"Host": "10.0.4.17:8000"}, timeout=10
    )
    assert login.status_code == 400
