"""The accessibility statement: public, linked from every page's footer, with a way to report
a problem taken from configuration."""

from __future__ import annotations

import re

from tests.support.capture import create_direct, path_of


def test_the_statement_is_public_and_says_what_it_must(app):
    response = app.test_client().get("/accessibility")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for words in (
        "Accessibility statement",
        "WCAG",
        "2.2 at level AA",
        "axe-core",
        "Keyboard-only",
        "screen reader",
        "320 pixels",
        "JavaScript switched off",
        "Known limitations",
        "Reporting a problem",
        "This statement was prepared on 7 December 2026.",
    ):
        assert words in page, words


def test_the_contact_comes_from_configuration(app_factory):
    app = app_factory(ACCESSIBILITY_CONTACT="access@example-energy.co.uk")
    page = app.test_client().get("/accessibility").get_data(as_text=True)
    assert 'href="mailto:access@example-energy.co.uk"' in page
    phone = app_factory(ACCESSIBILITY_CONTACT="0800 123 4567 (8am to 8pm)")
    page = phone.test_client().get("/accessibility").get_data(as_text=True)
    assert "0800 123 4567 (8am to 8pm)" in page and "mailto:" not in page


def test_without_a_contact_it_says_to_tell_the_agent(app):
    page = app.test_client().get("/accessibility").get_data(as_text=True)
    assert "tell the person you are speaking to" in page
    assert "mailto:" not in page


def _footer_link(page: str) -> bool:
    footer = re.search(r"<footer[^>]*>(.*?)</footer>", page, re.S)
    return bool(footer) and 'href="/accessibility"' in footer.group(1)


def test_every_customer_page_links_to_it(app, make_staff):
    _public_id, url = create_direct(app, make_staff("agent").id)
    customer = app.test_client()
    landing = customer.get(path_of(url))
    assert landing.status_code == 200 and _footer_link(landing.get_data(as_text=True))
    problem = customer.get(path_of(url)[:-3])  # a link cut short: the problem page
    assert _footer_link(problem.get_data(as_text=True))
    missing = customer.get("/no-such-page")
    assert missing.status_code == 404 and _footer_link(missing.get_data(as_text=True))
    assert _footer_link(customer.get("/login").get_data(as_text=True))


def test_the_statement_is_in_welsh_for_a_welsh_customer(app):
    """A Welsh page's footer link keeps the statement Welsh; its own switch goes back to
    English; a staff page's cookie-less visit stays English."""
    client = app.test_client()
    switched = client.get("/accessibility?lang=cy")
    assert switched.status_code == 303 and switched.headers["Location"] == "/accessibility"
    page = client.get("/accessibility").get_data(as_text=True)
    assert '<html lang="cy"' in page
    assert "<h1>Datganiad hygyrchedd</h1>" in page
    assert "Paratowyd y datganiad hwn ar 7 Rhagfyr 2026." in page
    assert "chwyddo i 400% neu ddefnyddio sgrin 320 picsel" in page
    assert 'href="/accessibility?lang=en"' in page and 'hreflang="en"' in page
    assert 'href="/accessibility?lang=cy"' in page, "the footer link of a Welsh page"

    english = app.test_client().get("/accessibility").get_data(as_text=True)
    assert '<html lang="en-GB"' in english and "zoom to 400% or use a screen" in english
    assert "prepared on 7 December 2026." in english
