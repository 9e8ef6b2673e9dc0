"""Welsh for the customer: the agent's choice of language, the switch on every page, ``lang``
attributes, and errors met on the customer's pages."""

from __future__ import annotations

import re

import pytest

from tests.support.capture import (
    answer_identity,
    create_direct,
    load,
    path_of,
    press_start,
)


@pytest.fixture
def agent(make_staff):
    return make_staff("agent")


def _html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


def _switch(page: str) -> tuple[str, str, str, str]:
    """(href, lang, hreflang, text) of the language switch link."""
    match = re.search(
        r'<a href="([^"]+)" lang="([^"]+)" hreflang="([^"]+)" data-testid="language-switch">'
        r"([^<]+)</a>",
        page,
    )
    assert match, "no language switch on the page"
    return match.groups()


def test_a_request_created_in_welsh_shows_its_pages_in_welsh(app, client, agent):
    public_id, url = create_direct(app, agent.id, language="cy")
    assert load(app, public_id).language == "cy"
    landing = client.get(path_of(url)).get_data(as_text=True)
    assert _html_lang(landing) == "cy"
    assert "Dolen ddiogel gan Postern Demo Ltd" in landing
    assert ">Dechrau</button>" in landing
    href, lang, hreflang, text = _switch(landing)
    assert (href, lang, hreflang, text) == (path_of(url) + "?lang=en", "en", "en", "English")
    identity = client.get(press_start(client, url).headers["Location"]).get_data(as_text=True)
    assert "Beth yw cod post eich cyfeiriad?" in identity
    wrong = answer_identity(client, url, "AB1 2CD").get_data(as_text=True)
    assert "Nid yw hyn yn cyfateb i&#39;n cofnodion" in wrong
    summary = client.get(answer_identity(client, url, "SW1A 1AA").headers["Location"])
    page = summary.get_data(as_text=True)
    assert _html_lang(page) == "cy" and "Diolch, rydych wedi cael eich cadarnhau" in page
    assert "Talu" not in page or "Parhau i&#39;r taliad" in page


def test_an_english_request_is_in_english_with_a_link_to_welsh(app, client, agent):
    _, url = create_direct(app, agent.id)
    landing = client.get(path_of(url)).get_data(as_text=True)
    assert _html_lang(landing) == "en-GB"
    assert "Secure link from Postern Demo Ltd" in landing
    assert _switch(landing) == (path_of(url) + "?lang=cy", "cy", "cy", "Cymraeg")


def test_the_switch_keeps_the_choice_for_the_visit_and_returns_to_the_same_page(app, client, agent):
    public_id, url = create_direct(app, agent.id)
    switched = client.get(path_of(url) + "?lang=cy")
    assert switched.status_code == 303
    assert switched.headers["Location"] == path_of(url), "back to the page itself, no lang"
    cookie = switched.headers["Set-Cookie"]
    assert "postern_language=cy" in cookie and "HttpOnly" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie, "for this visit only"
    landing = client.get(path_of(url)).get_data(as_text=True)
    assert _html_lang(landing) == "cy"
    assert load(app, public_id).bound_at is None, "switching never consumes the link"
    # Start still works: the CSRF token of the Welsh page is a good one.
    summary_url = press_start(client, url).headers["Location"]
    assert client.get(summary_url).status_code == 200
    # ... and back to English.
    assert client.get(summary_url + "?lang=en").headers["Location"] == summary_url
    assert _html_lang(client.get(summary_url).get_data(as_text=True)) == "en-GB"


def test_the_switch_never_redirects_anywhere_else(app, client, agent):
    _, url = create_direct(app, agent.id)
    for tricky in ("?lang=cy&next=https://evil.example", "?lang=xx"):
        response = client.get(path_of(url) + tricky)
        assert response.status_code == 303
        assert response.headers["Location"].startswith(path_of(url))
    assert client.get(path_of(url) + "?lang=xx").headers["Location"] == path_of(url)


def test_staff_pages_stay_english_whatever_the_customer_cookie(app, client, logged_in):
    logged_in("agent")
    client.set_cookie("postern_language", "cy", path="/")
    page = client.get("/agent/").get_data(as_text=True)
    assert _html_lang(page) == "en-GB"
    assert "language-switch" not in page


def test_errors_on_customer_pages_follow_the_customer_language(app, client):
    client.get("/c/not-a-real-token/summary?lang=cy")
    page = client.get("/c/not-a-real-token/summary").get_data(as_text=True)
    assert _html_lang(page) == "cy"
    assert "Nid yw&#39;r ddolen hon yn gyflawn" in page or "Ni allwn" in page


def test_a_refused_form_on_a_welsh_request_is_refused_in_welsh(app, client, agent):
    """Proves: a form refused before its view runs (its CSRF token missing) is answered in the
    language of the request the link names, not in English."""
    _public_id, url = create_direct(app, agent.id, language="cy")
    press_start(client, url)
    refused = client.post(path_of(url) + "/check", data={"answer": "SW1A 1AA"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert _html_lang(page) == "cy" and "Mae&#39;r ffurflen hon wedi dod i ben" in page
    assert "This form has expired" not in page


def test_too_many_answers_on_a_welsh_request_are_refused_in_welsh(app_factory, make_staff):
    app = app_factory(
        RATELIMIT_IDENTITY_PER_REQUEST_IP="2 per minute", CAPTURE_IDENTITY_MAX_FAILURES=50
    )
    _public_id, url = create_direct(app, make_staff("agent").id, language="cy")
    client = app.test_client()
    press_start(client, url)
    answers = [answer_identity(client, url, "AB1 2CD") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [400, 400, 429]
    page = answers[-1].get_data(as_text=True)
    assert _html_lang(page) == "cy" and "Gormod o gynigion" in page


def test_a_refused_form_with_a_forged_link_is_refused_in_english(app, client, agent):
    """Proves: a token no key of ours signed names no request, so no language, even when it
    claims a Welsh request's public id in the right shape: English."""
    from itsdangerous import URLSafeTimedSerializer

    from portal.capture.links import SALT, CompactClaim

    public_id, _url = create_direct(app, agent.id, language="cy")
    forger = URLSafeTimedSerializer("not one of our keys", salt=SALT, serializer=CompactClaim)
    forged = forger.dumps([public_id, "A" * 12])
    for path in (f"/c/{forged}/check", "/c/not-a-real-token/check"):
        refused = client.post(path, data={"answer": "SW1A 1AA"})
        assert refused.status_code == 400
        page = refused.get_data(as_text=True)
        assert _html_lang(page) == "en-GB" and "This form has expired" in page


def test_a_form_too_large_on_a_welsh_request_is_refused_in_welsh(app, client, agent):
    _public_id, url = create_direct(app, agent.id, language="cy")
    press_start(client, url)
    limit = app.config["MAX_CONTENT_LENGTH"]
    refused = client.post(path_of(url) + "/check", data={"answer": "x" * (limit + 1)})
    assert refused.status_code == 413
    assert _html_lang(refused.get_data(as_text=True)) == "cy"


def test_a_hidden_character_on_a_welsh_request_is_refused_in_welsh(app, client, agent):
    """Proves: a NUL pasted into the identity answer (refused before any view) is answered in
    the request's language, without the form's name for the box (not what the customer read);
    the answer is not counted."""
    public_id, url = create_direct(app, agent.id, language="cy")
    press_start(client, url)
    refused = answer_identity(client, url, "SW1A\x001AA")
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert _html_lang(page) == "cy" and "Roedd nod cudd yn un o'r blychau" in page
    assert "answer" not in page.split("<main", 1)[1]
    assert load(app, public_id).identity_failures == 0


def test_an_address_of_a_welsh_link_that_matches_no_page_answers_in_welsh(app, client, agent):
    """Proves: a link's address with no page behind it (404), or not for this method (405),
    matches no view, so no blueprint handler; its page is still in the request's language, in
    the customer's frame; a forged token's is English."""
    _public_id, url = create_direct(app, agent.id, language="cy")
    missing = client.get(path_of(url) + "/nowhere")
    refused = client.post(path_of(url) + "/summary")
    assert (missing.status_code, refused.status_code) == (404, 405)
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    for answer, words in ((missing, "Heb ddod o hyd i&#39;r dudalen"), (refused, "Ni chaniateir")):
        page = answer.get_data(as_text=True)
        assert _html_lang(page) == "cy" and words in page
        assert _switch(page)[2] == "en"  # the customer's frame, with its switch back to English
    forged = client.get("/c/not-a-real-token/nowhere").get_data(as_text=True)
    assert _html_lang(forged) == "en-GB" and "Page not found" in forged


def test_the_agent_chooses_welsh_on_the_console_and_the_text_goes_out_in_welsh(
    app, client, logged_in
):
    from portal.delivery.outbox import render
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.delivery import DeliveryMessage
    from tests.support.capture import create_via_console

    logged_in("agent")
    form = client.get("/agent/").get_data(as_text=True)
    assert '<option selected value="en">English</option>' in form
    assert '<option value="cy">Cymraeg (Welsh)</option>' in form
    response, _ = create_via_console(
        client, language="cy", channel="sms", destination="07700 900123"
    )
    assert response.status_code in (200, 302, 303), response.status_code
    with app.app_context():
        capture = db.session.query(CaptureRequest).one()
        assert capture.language == "cy"
        message = db.session.query(DeliveryMessage).one()
        text = render(message, capture).text_body
    # The demo's short name and address: the one-segment wording, in Welsh.
    assert text.startswith("Postern Demo Ltd: eich dolen ddiogel o'n galwad\n")


def test_the_console_refuses_a_language_it_does_not_offer(app, client, logged_in):
    from tests.support.capture import create_via_console

    logged_in("agent")
    response, url = create_via_console(client, language="fr")
    assert response.status_code == 400 and url is None


def test_the_api_takes_the_language_and_documents_it(app, client, make_staff):
    from tests.support.api import api_call, make_api_key, payment_body

    agent = make_staff("agent", team="North")
    key = make_api_key(app, team="North")
    created = api_call(
        client, "POST", "/requests", key, payment_body(agent.username, language="cy")
    )
    assert created.status_code == 201, created.get_json()
    assert load(app, created.get_json()["id"]).language == "cy"
    assert created.get_json()["language"] == "cy"
    default = api_call(client, "POST", "/requests", key, payment_body(agent.username))
    assert load(app, default.get_json()["id"]).language == "en"
    refused = api_call(
        client, "POST", "/requests", key, payment_body(agent.username, language="fr")
    )
    assert refused.status_code == 400
    assert "language" in str(refused.get_json())
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    languages = [
        s["properties"]["language"]
        for s in schemas.values()
        if "language" in s.get("properties", {})
    ]
    assert {"type": "string", "enum": ["en", "cy"]}.items() <= next(
        field for field in languages if "enum" in field
    ).items(), "the create body documents its choices"


def test_the_details_form_its_notice_and_its_errors_are_in_welsh(app, client, agent):
    from tests.support.web import post_form

    _, url = create_direct(
        app,
        agent.id,
        kind="data",
        field_set="address",
        amount_minor=None,
        currency=None,
        purpose=None,
        language="cy",
    )
    press_start(client, url)
    answer_identity(client, url, "SW1A 1AA")
    details = path_of(url) + "/details"
    page = client.get(details).get_data(as_text=True)
    assert "<h1>Eich cyfeiriad post</h1>" in page
    assert "Llinell 1 y cyfeiriad" in page and "Sir (dewisol)" in page
    assert "30 diwrnod ar ôl i&#39;ch cais gael ei gwblhau" in page
    assert "Anfon fy manylion" in page and "Cyn i chi ddechrau" in page
    refused = post_form(
        client,
        details,
        {"decision": "send", "address_line1": "", "town": "Caerdydd", "postcode": "nope"},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "Mae problem wedi codi" in page
    assert "Rhowch linell 1 y cyfeiriad" in page
    assert "Rhowch ‘cod post’ go iawn, fel SW1A 1AA" in page
