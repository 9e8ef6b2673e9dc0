"""Start's CSRF token is bound to the link, so the landing page writes no session cookie."""

from __future__ import annotations

import pytest
from itsdangerous import TimestampSigner

from tests.support.capture import count_audit, create_direct, expire, load, path_of, press_start
from tests.support.web import csrf_from

EXPIRED = "This form has expired"  # the error page of every other form
START_AGAIN = "This page has expired. Please press Start again."  # the landing page
HTTPS = "https://localhost"


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


@pytest.fixture
def link(app, agent):
    """(public_id, url) of a fresh payment request with a postcode check."""
    return create_direct(app, agent.id)


def _start_token(client, url: str, **kwargs) -> str:
    return csrf_from(client.get(path_of(url), **kwargs).get_data(as_text=True))


def _assert_refused_and_unbound(app, response, public_id: str) -> None:
    assert response.status_code == 400
    assert START_AGAIN in response.get_data(as_text=True)
    assert not any("postern_link_" in c for c in response.headers.getlist("Set-Cookie"))
    assert load(app, public_id).bound_secret_hash is None
    assert count_audit(app, "capture.bound", public_id) == 0


def test_the_landing_page_sets_no_cookie_first_or_again(app, client, link):
    """Proves: neither a first nor a repeat visit to the landing page sends any Set-Cookie
    (no session cookie, nothing else), and its Start token then binds the link."""
    _public_id, url = link
    first = client.get(path_of(url))
    again = client.get(path_of(url))
    assert first.status_code == again.status_code == 200
    assert first.headers.getlist("Set-Cookie") == []
    assert again.headers.getlist("Set-Cookie") == []
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is None
    response = press_start(client, url)
    assert response.status_code == 303 and response.headers["Location"].endswith("/check")
    assert any("postern_link_" in c for c in response.headers.getlist("Set-Cookie"))


def test_start_works_from_another_browser_than_the_one_that_read_the_page(app, link):
    """Proves: the token belongs to the link, not to a session: a page read in one browser
    (e.g. a preview) still starts in another (the binding then decides who holds the link)."""
    public_id, url = link
    token = _start_token(app.test_client(), url)
    response = app.test_client().post(path_of(url) + "/start", data={"csrf_token": token})
    assert response.status_code == 303
    assert count_audit(app, "capture.bound", public_id) == 1


def test_a_token_of_another_link_is_refused(app, client, agent, link):
    """Proves: the Start token of link A does not start link B."""
    public_id, url = link
    _other_id, other_url = create_direct(app, agent.id)
    token_of_other = _start_token(client, other_url)
    response = client.post(path_of(url) + "/start", data={"csrf_token": token_of_other})
    _assert_refused_and_unbound(app, response, public_id)


@pytest.mark.parametrize(
    "data",
    [{}, {"csrf_token": ""}, {"csrf_token": "garbled.token"}, {"csrf_token": "x" * 5000}],
)
def test_a_missing_or_garbled_token_is_refused(app, client, link, data):
    public_id, url = link
    client.get(path_of(url))
    response = client.post(path_of(url) + "/start", data=data)
    _assert_refused_and_unbound(app, response, public_id)


def test_a_welsh_customer_is_refused_in_welsh(app, client, agent):
    """Proves: the refusal is in the request's language (the link is resolved before the
    token is checked), with the Welsh words for "press Start again"."""
    public_id, url = create_direct(app, agent.id, language="cy")
    response = client.post(path_of(url) + "/start", data={"csrf_token": "garbled"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Mae'r dudalen hon wedi dod i ben. Pwyswch Dechrau eto." in text
    assert START_AGAIN not in text
    assert load(app, public_id).bound_secret_hash is None


def test_a_refused_start_resolves_nothing(app, client, agent):
    """Proves: a refused Start changes nothing, not even what resolving its link would (an
    overdue request is marked expired and audited when its link is resolved), yet is still
    answered in the request's language."""
    public_id, url = create_direct(app, agent.id, language="cy")
    status = load(app, public_id).status
    expire(app, public_id)
    response = client.post(path_of(url) + "/start", data={"csrf_token": "garbled"})
    assert response.status_code == 400
    assert "Pwyswch Dechrau eto" in response.get_data(as_text=True)
    assert load(app, public_id).status == status
    assert count_audit(app, "capture.expired", public_id) == 0


def test_starts_address_opened_as_a_page_leads_to_the_landing_page(app, client, link):
    """Proves: Start's address opened with GET (a refused Start's page reloaded elsewhere, or
    its address copied) goes to the landing page and its Start button, binding nothing, rather
    than to an error page."""
    public_id, url = link
    response = client.get(path_of(url) + "/start")
    assert response.status_code == 303 and response.headers["Location"] == path_of(url)
    assert response.headers.getlist("Set-Cookie") == []
    assert load(app, public_id).bound_secret_hash is None
    landing = client.get(response.headers["Location"])
    assert landing.status_code == 200 and ">Start<" in landing.get_data(as_text=True)


def test_a_session_token_of_another_form_is_refused(app, client, link):
    """Proves: a valid session token (any other form's) is not a Start token."""
    public_id, url = link
    session_token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(path_of(url) + "/start", data={"csrf_token": session_token})
    _assert_refused_and_unbound(app, response, public_id)


def test_an_expired_token_is_refused_and_a_fresh_one_offered(app, client, link):
    """Proves: a Start token older than WTF_CSRF_TIME_LIMIT is refused with the landing page
    (400, "This page has expired. Please press Start again."), whose fresh token then works."""
    public_id, url = link
    limit = app.config["WTF_CSRF_TIME_LIMIT"]

    class OldClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - limit - 60

    from portal.customer.forms import start_token_serializer

    fresh = _start_token(client, url)
    with app.test_request_context():
        payload = start_token_serializer().loads(fresh)
        old = start_token_serializer(signer=OldClock).dumps(payload)
    response = client.post(path_of(url) + "/start", data={"csrf_token": old})
    _assert_refused_and_unbound(app, response, public_id)
    offered = csrf_from(response.get_data(as_text=True))
    assert client.post(path_of(url) + "/start", data={"csrf_token": offered}).status_code == 303


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost.evil.example", "null"]
)
def test_a_cross_site_origin_is_refused(app, client, link, origin):
    public_id, url = link
    token = _start_token(client, url)
    response = client.post(
        path_of(url) + "/start", data={"csrf_token": token}, headers={"Origin": origin}
    )
    _assert_refused_and_unbound(app, response, public_id)


def test_our_own_origin_is_accepted(app, client, link):
    _public_id, url = link
    token = _start_token(client, url)
    response = client.post(
        path_of(url) + "/start", data={"csrf_token": token}, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({}, False),  # neither Referer nor Origin, as Flask-WTF refuses over HTTPS
        ({"Referer": "https://evil.example/c/x"}, False),
        ({"Referer": "http://localhost/c/x"}, False),  # same host, but not over HTTPS
        ({"Origin": HTTPS}, False),  # an Origin alone: Flask-WTF wants the Referer too
        ({"Referer": HTTPS + "/c/x", "Origin": "https://evil.example"}, False),
        ({"Referer": HTTPS + "/c/x"}, True),  # what Referrer-Policy: same-origin sends
        ({"Referer": HTTPS + "/c/x", "Origin": HTTPS}, True),
    ],
)
def test_over_https_start_needs_our_own_referer(app, link, headers, accepted):
    """Proves: over HTTPS (WTF_CSRF_SSL_STRICT, on in tests as in production) Start is as strict
    as every other form: a Referer of our own origin, and no other site's Origin."""
    public_id, url = link
    client = app.test_client()
    token = _start_token(client, url, base_url=HTTPS)
    response = client.post(
        path_of(url) + "/start", data={"csrf_token": token}, headers=headers, base_url=HTTPS
    )
    if accepted:
        assert response.status_code == 303
    else:
        _assert_refused_and_unbound(app, response, public_id)


def test_other_customer_forms_keep_the_session_token(app, client, link):
    """Proves: the link-bound token opens Start only; the identity check still wants the
    session's token (CSRFProtect)."""
    _public_id, url = link
    start_token = _start_token(client, url)
    assert client.post(path_of(url) + "/start", data={"csrf_token": start_token}).status_code == 303
    response = client.post(
        path_of(url) + "/check", data={"answer": "SW1A 1AA", "csrf_token": start_token}
    )
    assert response.status_code == 400 and EXPIRED in response.get_data(as_text=True)
    session_token = csrf_from(client.get(path_of(url) + "/check").get_data(as_text=True))
    answered = client.post(
        path_of(url) + "/check", data={"answer": "SW1A 1AA", "csrf_token": session_token}
    )
    assert EXPIRED not in answered.get_data(as_text=True)


def test_a_cross_site_fetch_is_refused_even_without_an_origin(app, client, link):
    """Proves: a browser that says the form came from another site (Sec-Fetch-Site) is
    refused, whatever else it sends."""
    public_id, url = link
    token = _start_token(client, url)
    response = client.post(
        path_of(url) + "/start",
        data={"csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    _assert_refused_and_unbound(app, response, public_id)
    same_site = client.post(
        path_of(url) + "/start",
        data={"csrf_token": token},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert same_site.status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://[::1"},  # a broken IPv6 host: urlparse raises
        {"Referer": HTTPS + ":99999/c/x"},  # a port out of range: .port raises
    ],
)
def test_a_malformed_origin_or_referer_is_refused_not_an_error(app, link, headers):
    """Proves: a header urlparse cannot read is a refusal (400), never a 500."""
    public_id, url = link
    client = app.test_client()
    token = _start_token(client, url, base_url=HTTPS)
    response = client.post(
        path_of(url) + "/start", data={"csrf_token": token}, headers=headers, base_url=HTTPS
    )
    _assert_refused_and_unbound(app, response, public_id)


def test_a_malformed_referer_on_any_other_form_is_a_400_not_an_error(app):
    """Proves: Flask-WTF's own HTTPS referrer check, on every other form, answers a Referer
    urlparse cannot read with its CSRF refusal (400), not an unhandled error."""
    client = app.test_client()
    token = csrf_from(client.get("/login", base_url=HTTPS).get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": "nobody", "password": "wrong", "csrf_token": token},
        headers={"Referer": HTTPS + ":99999/login"},
        base_url=HTTPS,
    )
    assert response.status_code == 400
