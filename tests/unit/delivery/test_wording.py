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
#: A production-like address, longer than most, and the longest name ORG_NAME might hold.
REALISTIC_BASE = "https://pay.example-contact-centre.co.uk"
LONG_ORG = "O\u2019Brien & Sons \u2013 Gas, Water and Electricity Services Ltd"
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
        assert not ASKS_FOR_CARD.search(re.sub(r"never ask for (your )?card details", "", body))
        assert "bit.ly" not in body and "tinyurl" not in body
        # A text message on this address has room for who we are and the link, in one
        # segment; the landing page says the rest (test_the_sms_* below).
        if channel == "email":
            assert "confirm a detail we hold about you before anything else is shown" in body
            assert "We will never ask for your card details by text or phone" in body
            assert "expires" in body.lower()
            assert "Not on a call with" in body and "Ignore this" in body
        else:
            assert body == f"{ORG}: your secure link from our call\n{url}"
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


def test_a_two_segment_sms_states_the_expiry_time(app_factory):
    app = app_factory(ORG_NAME=LONG_ORG, PUBLIC_BASE_URL=REALISTIC_BASE)
    request = _request()
    with app.app_context():
        sms = render_link_message(request, _link(app), "sms").text_body
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


def _sms(app, kind="payment", days_ahead=0):
    request = _request(kind, expires_in=timedelta(days=days_ahead, minutes=15))
    request.public_id = "K7F-3QX-2M9"
    with app.app_context():
        url = links.link_url(links.make_token(request.public_id, links.new_nonce()))
        sms = render_link_message(request, url, "sms").text_body
    length = sms_length(sms)
    print(f"\nSMS: {length.characters} characters, {length.encoding}, {length.segments} segments")
    print(f"link: {len(url)} characters\n{sms}")
    return sms, url, length


@pytest.mark.parametrize("kind", ["payment", "data", "both"])
@pytest.mark.parametrize(
    "org, base",
    [
        ("Postern Demo Ltd", "http://127.0.0.1:5000"),  # the demo
        (ORG, BASE),
        (LONG_ORG, "https://pay.example.co.uk"),  # the longest name, cut to 24
        ("Acme", "https://payments.acme-energy-services.co.uk"),  # 53 characters together
    ],
    ids=["demo", "typical", "longest-name", "long-address"],
)
def test_the_sms_is_one_gsm_segment_with_the_full_link(app_factory, kind, org, base):
    """Who we are and the full link, in one GSM-7 segment (160), while the name (as cut) and
    the address hold at most 57 characters together."""
    sms, url, length = _sms(app_factory(ORG_NAME=org, PUBLIC_BASE_URL=base), kind)
    assert (length.encoding, length.segments) == ("GSM-7", 1), length
    assert sms.endswith("your secure link from our call\n" + url)
    assert url.startswith(base + "/c/") and len(url) == len(base) + 70


@pytest.mark.parametrize("kind", ["payment", "data", "both"])
@pytest.mark.parametrize("days_ahead", [0, 1], ids=["today", "another day"])
def test_when_one_segment_cannot_hold_it_two_carry_the_full_wording(app_factory, kind, days_ahead):
    """A long address and the longest name (curly apostrophe and dash included): two GSM-7
    segments, and then the message also says when the link expires and that we never ask for
    card details by text."""
    app = app_factory(ORG_NAME=LONG_ORG, PUBLIC_BASE_URL=REALISTIC_BASE)
    sms, url, length = _sms(app, kind, days_ahead)
    assert length.encoding == "GSM-7", "no curly quotes or emoji that would double the cost"
    assert length.segments == 2 and length.units <= 306
    assert sms.startswith("O'Brien & Sons - Gas: ")
    assert "Expires" in sms and "We never ask for card details by text." in sms
    assert "Not on a call with us? Ignore this." in sms
    assert url in sms and sms.endswith(url), "the full link, on a line of its own"


def test_the_organisation_name_is_cut_deliberately_and_made_gsm_safe():
    from portal.delivery.wording import SMS_ORG_NAME_MAX, gsm_safe, sms_org_name

    assert sms_org_name("Acme Energy Ltd") == "Acme Energy Ltd"
    assert sms_org_name(LONG_ORG) == "O'Brien & Sons - Gas"
    assert len(sms_org_name("x" * 100)) == SMS_ORG_NAME_MAX
    assert gsm_safe("Caf\u00e9 \u201cUK\u201d \u2615") == 'Caf\u00e9 "UK" '
    assert sms_length(gsm_safe("\u2018any\u2019 \u2026 text \U0001f600")).encoding == "GSM-7"


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
