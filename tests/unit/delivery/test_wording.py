"""The words customers receive: who we are, the full link, what happens next, when it expires,
and never a request for card details."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from portal.capture import links
from portal.delivery.wording import describe_expiry, render_link_message, sms_length
from tests.support.capture import capture_request_row

ORG = "Acme Energy Ltd"
BASE = "https://pay.acme-energy.co.uk"
# Anything that asks the customer to give card details in the message or by reply.
ASKS_FOR_CARD = re.compile(
    r"(reply|text|send|tell|give|provide|confirm|enter)\b[^.\n]{0,40}\b(card|cvv|cvc|pin|"
    r"security code|expiry date|sort code|account number)",
    re.IGNORECASE,
)


@pytest.fixture
def wording_app(app_factory):
    return app_factory(ORG_NAME=ORG, PUBLIC_BASE_URL=BASE)


def _request(kind="payment", expires_in=timedelta(minutes=15)):
    return capture_request_row(
        None,
        kind=kind,
        now=datetime.now(UTC),
        expires_in=expires_in,
        public_id="AbCdEfGhIj",
        amount_minor=12550 if kind != "data" else None,
    )


def _link(app):
    with app.test_request_context():
        return links.link_url(links.make_token("AbCdEfGhIj", links.new_nonce()))


@pytest.mark.parametrize("kind", ["payment", "data", "both"])
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_every_message_names_us_shows_the_full_link_and_never_asks_for_card_details(
    wording_app, kind, channel
):
    url = _link(wording_app)
    with wording_app.app_context():
        rendered = render_link_message(_request(kind), url, channel)
    bodies = [rendered.text_body] + ([rendered.html_body] if rendered.html_body else [])
    for body in bodies:
        assert ORG in body
        assert url in body, "the full link on our own domain, never shortened"
        assert url.startswith(BASE + "/c/")
        assert "confirm a detail we hold about you before anything else is shown" in body
        assert "We will never ask for your card details by text or phone" in body
        assert not ASKS_FOR_CARD.search(body.replace("never ask for your card details", ""))
        assert "expires" in body.lower()
        assert "Not on a call with" in body and "Ignore this" in body
        assert "bit.ly" not in body and "tinyurl" not in body
    if channel == "email":
        assert rendered.subject == f"{ORG}: your secure link from our call"
        assert f'<a href="{url}">{url}</a>' in rendered.html_body, "link text is the real URL"
        assert "pay.acme-energy.co.uk" in rendered.text_body, "says which site it opens"


def test_the_expiry_time_is_given_in_uk_time(wording_app):
    expires = datetime(2026, 7, 1, 13, 35, tzinfo=UTC)  # 14:35 in London (BST)
    now = datetime(2026, 7, 1, 13, 20, tzinfo=UTC)
    with wording_app.app_context():
        assert describe_expiry(expires, now) == "14:35 UK time"
        assert describe_expiry(expires, now - timedelta(days=1)) == "14:35 UK time on 1 July"
        winter = datetime(2026, 12, 3, 14, 35, tzinfo=UTC)
        assert describe_expiry(winter, winter) == "14:35 UK time"


def test_the_sms_states_the_expiry_time(wording_app):
    request = _request()
    url = _link(wording_app)
    with wording_app.app_context():
        sms = render_link_message(request, url, "sms").text_body
        assert f"Expires {describe_expiry(request.expires_at)}." in sms


def test_the_email_states_the_amount_for_payments_only(wording_app):
    url = _link(wording_app)
    with wording_app.app_context():
        payment = render_link_message(_request("payment"), url, "email")
        data = render_link_message(_request("data"), url, "email")
    assert "to make your payment of £125.50:" in payment.text_body
    assert "to make your payment of £125.50:" in payment.html_body
    assert "£" not in data.text_body and "give us the details we asked for:" in data.text_body
    assert "You pay on that secure page" in payment.text_body
    assert "You pay on that secure page" not in data.text_body
    with wording_app.app_context():
        both = render_link_message(_request("both"), url, "email")
    assert "to pay £125.50 and give us the details we asked for:" in both.text_body


def test_html_email_escapes_what_it_shows(app_factory):
    app = app_factory(ORG_NAME="Tom & Jerry <Ltd>", PUBLIC_BASE_URL=BASE)
    url = _link(app)
    with app.app_context():
        rendered = render_link_message(_request(), url, "email")
    assert "Tom &amp; Jerry &lt;Ltd&gt;" in rendered.html_body
    assert "<Ltd>" not in rendered.html_body
    assert "Tom & Jerry <Ltd>" in rendered.text_body


@pytest.mark.parametrize("kind", ["payment", "data", "both"])
def test_the_sms_is_short_plain_gsm_text(wording_app, kind):
    """Report of the SMS length with a real link: GSM-7, at most three segments."""
    url = _link(wording_app)
    with wording_app.app_context():
        sms = render_link_message(_request(kind), url, "sms").text_body
    length = sms_length(sms)
    print(f"\nSMS: {length.characters} characters, {length.encoding}, {length.segments} segments")
    print(f"link: {len(url)} characters\n{sms}")
    assert length.encoding == "GSM-7", "no curly quotes or emoji that would double the cost"
    assert length.segments <= 3


def test_sms_length_counts_segments_and_encodings():
    assert sms_length("a" * 160).segments == 1
    assert sms_length("a" * 161).segments == 2
    assert sms_length("a" * 306).segments == 2
    assert sms_length("a" * 307).segments == 3
    assert sms_length("€" * 80).units == 160  # extension characters cost two septets
    assert sms_length("€" * 81).segments == 2
    unicode = sms_length("It’s here")  # a curly apostrophe forces UCS-2
    assert unicode.encoding == "UCS-2" and unicode.segments == 1
    assert sms_length("’" * 71).segments == 2
