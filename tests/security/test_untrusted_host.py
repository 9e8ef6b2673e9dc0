"""A Host that POSTERN_TRUSTED_HOSTS does not list is answered 400 on every route, for anyone,
by any method: our words, JSON where the site speaks JSON, security headers on, nothing done.
The health probes answer any Host by design (a load balancer probes by address)."""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule
from werkzeug.test import EnvironBuilder

from portal.extensions import db
from portal.models import AuditEvent
from tests.security.access_rules import ROUTE_ACCESS
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from

TRUSTED = "localhost"
UNTRUSTED = (
    "evil.example",
    "localhost.evil.example",
    "evil.example:443",
    "localhost:not-a-port",
    "[::1",
)
PROBES = frozenset({"health.healthz", "health.readyz"})
JSON_AREAS = ("/agent/api/", "/webhooks/")


@pytest.fixture
def app(app_factory):
    return app_factory(TRUSTED_HOSTS=[TRUSTED])


def _requests(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every route and every method it takes."""
    adapter = app.url_map.bind(TRUSTED)
    found = []
    rule: Rule
    for rule in app.url_map.iter_rules():
        _, params = ROUTE_ACCESS[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(
                (rule.endpoint, method, adapter.build(rule.endpoint, params, method=method))
            )
    return sorted(found)


def _assert_refused(response, path: str) -> None:
    assert response.status_code == 400, (path, response.status_code)
    assert "Content-Security-Policy" in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    if path.startswith("/api/v1/"):  # the integration API's one error shape
        assert response.get_json()["error"] == {
            "type": "invalid_request_error",
            "code": "bad_request",
            "message": "This web address is not one we answer to",
            "param": None,
        }
    elif path.startswith(JSON_AREAS):
        assert response.get_json() == {
            "error": 400,
            "message": "This web address is not one we answer to",
        }
    else:
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert "This web address is not one we answer to" in page
        assert "Check the address you typed" in page


def test_every_route_answers_400_to_an_untrusted_host(app):
    """Proves: anonymous GETs and POSTs of every registered route, with a forged Host, get our 400
    (never a 500, never the page), and the probes still answer."""
    client = app.test_client()
    requests = _requests(app)
    assert len(requests) > 40  # every route, not a handful
    for endpoint, method, path in requests:
        response = client.open(path, method=method, headers={"Host": UNTRUSTED[0]})
        if endpoint in PROBES:
            assert response.status_code == 200, (path, response.status_code)
        elif endpoint == "metrics.metrics":  # any Host, like the probes; no token set: 404
            assert response.status_code == 404, (path, response.status_code)
        else:
            _assert_refused(response, path)


@pytest.mark.parametrize("host", UNTRUSTED)
def test_each_kind_of_bad_host_is_refused_on_a_page_a_json_poll_and_a_post(app, host):
    client = app.test_client()
    _assert_refused(client.get("/login", headers={"Host": host}), "/login")
    _assert_refused(client.get("/agent/api/requests", headers={"Host": host}), "/agent/api/")
    _assert_refused(
        client.post("/webhooks/stripe", data="{}", headers={"Host": host}), "/webhooks/"
    )
    for probe in ("/healthz", "/readyz"):
        assert client.get(probe, headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["xn--zz", "xn--", "a..b", "\udcff"])
def test_hosts_that_are_not_names_at_all_get_400_from_the_wsgi_app(app, host):
    """Called as gunicorn calls it: Werkzeug's test client itself cannot send a Host whose
    punycode is broken (it decodes the Host to file cookies)."""
    statuses = []

    def start_response(status, headers):
        statuses.append(status)

    for path in ("/login", "/agent/api/requests", "/c/not-a-real-token"):
        environ = EnvironBuilder(path=path).get_environ()
        environ["HTTP_HOST"] = host
        body = b"".join(app(environ, start_response))
        assert statuses.pop() == "400 BAD REQUEST", (host, path)
        assert b"This web address is not one we answer to" in body


def test_a_forwarded_host_is_checked_the_same_behind_a_proxy(app_factory):
    client = app_factory(TRUSTED_HOSTS=[TRUSTED], PROXY_HOPS=1).test_client()
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    _assert_refused(client.get("/login", headers=forged), "/login")
    assert client.get("/login", headers={"X-Forwarded-Host": TRUSTED}).status_code == 200
    assert client.get("/healthz", headers=forged).status_code == 200


def test_a_signed_in_session_gets_400_and_nothing_is_done(app, logged_in):
    """Proves: with a live staff cookie, pages, the console's JSON poll and a form post under a
    forged Host are refused before any view runs: no sign-in attempt or action is audited, and
    the same requests under our own Host still work."""
    client, user = logged_in("agent")
    forged = {"Host": UNTRUSTED[0]}
    form = csrf_from(client.get("/agent/").get_data(as_text=True))
    with app.app_context():
        audited_before = db.session.query(AuditEvent).count()

    _assert_refused(client.get("/agent/", headers=forged), "/agent/")
    _assert_refused(client.get("/agent/api/requests", headers=forged), "/agent/api/")
    login_attempt = {"username": user.username, "password": "wrong" * 3, "csrf_token": form}
    _assert_refused(client.post("/login", data=login_attempt, headers=forged), "/login")
    change = {"current_password": DEFAULT_PASSWORD, "csrf_token": form}
    _assert_refused(client.post("/account/password", data=change, headers=forged), "/account")

    with app.app_context():
        assert db.session.query(AuditEvent).count() == audited_before
    assert client.get("/agent/").status_code == 200
    assert client.get("/agent/api/requests").status_code == 200
