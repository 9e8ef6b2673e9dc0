"""Gateways: backend choice, error mapping, and the email that SMTP would carry."""

import re

import pytest

from config.settings import ConfigError, delivery_problems
from portal.delivery.gateways import (
    DeliveryError,
    DevOutboxGateway,
    DisabledGateway,
    OutgoingMessage,
    configured_backend,
    gateway_for,
)
from portal.delivery.smtp_email import SmtpEmailGateway
from portal.delivery.twilio_sms import TwilioSmsGateway, classify_twilio_error
from tests.support.delivery import TWILIO_SID, TWILIO_TOKEN, FakeTwilio
from tests.support.loopback import free_port

LINK = "https://pay.example.co.uk/c/abc.def.ghi"


def _outgoing(channel="email", destination="jane@example.com", **kw):
    values = {
        "message_id": 7,
        "attempt_number": 2,
        "channel": channel,
        "destination": destination,
        "subject": "Acme: your secure link from our call",
        "text_body": f"Hello\n{LINK}\n",
        "html_body": f'<p><a href="{LINK}">{LINK}</a></p>',
    }
    values.update(kw)
    return OutgoingMessage(**values)


def test_the_outgoing_message_never_shows_its_destination_or_body():
    shown = repr(_outgoing())
    assert "jane" not in shown and LINK not in shown


def test_backends_come_from_configuration():
    assert configured_backend("sms", {"DELIVERY_SMS_BACKEND": "twilio"}) == "twilio"
    assert configured_backend("email", {}) == "dev"
    assert isinstance(gateway_for("sms", {"DELIVERY_SMS_BACKEND": "dev"}), DevOutboxGateway)
    assert isinstance(gateway_for("email", {"DELIVERY_EMAIL_BACKEND": "disabled"}), DisabledGateway)
    with pytest.raises(ValueError):
        configured_backend("sms", {"DELIVERY_SMS_BACKEND": "smtp"})
    with pytest.raises(ValueError):
        configured_backend("pigeon", {})


def test_the_dev_gateway_delivers_to_the_outbox_and_disabled_fails_for_good():
    assert DevOutboxGateway().send(_outgoing()).provider_message_id == "dev-7"
    with pytest.raises(DeliveryError) as problem:
        DisabledGateway("sms").send(_outgoing("sms", "+447911123456"))
    assert problem.value.permanent and "switched off" in problem.value.message


@pytest.mark.parametrize(
    ("status", "code", "permanent", "words"),
    [
        (400, 21211, True, "The mobile number is not valid"),
        (400, 21610, True, "replied STOP"),
        (400, 21614, True, "not a mobile number"),
        (400, 21408, True, "not allowed to send texts to that country"),
        (401, 20003, False, "rejected our set-up"),
        (429, 20429, False, "not available just now"),
        (500, 500, False, "not available just now"),
        (503, None, False, "not available just now"),
        (400, 21999, True, "refused this message (error 21999)"),
    ],
)
def test_twilio_errors_map_to_plain_words_and_a_retry_class(status, code, permanent, words):
    problem = classify_twilio_error(status, code)
    assert problem.permanent is permanent
    assert words in problem.message
    assert problem.code.startswith("twilio_")


def test_twilio_needs_a_sender_or_messaging_service():
    with pytest.raises(ValueError):
        TwilioSmsGateway(TWILIO_SID, TWILIO_TOKEN)


def test_twilio_unreachable_is_transient():
    gateway = TwilioSmsGateway(
        TWILIO_SID,
        TWILIO_TOKEN,
        sender="+447700900001",
        api_base_url=f"http://127.0.0.1:{free_port()}",
        timeout=2,
    )
    with pytest.raises(DeliveryError) as problem:
        gateway.send(_outgoing("sms", "+447911123456"))
    assert (problem.value.code, problem.value.permanent) == ("twilio_unreachable", False)


def test_twilio_sends_through_a_messaging_service_when_configured():
    with FakeTwilio() as fake:
        gateway = TwilioSmsGateway(
            TWILIO_SID,
            TWILIO_TOKEN,
            messaging_service_sid="MG" + "2" * 32,
            api_base_url=fake.base_url,
        )
        result = gateway.send(_outgoing("sms", "+447911123456"))
    assert result.provider_message_id.startswith("SM")
    (form,) = fake.received
    assert form["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in form
    assert form["To"] == "+447911123456" and LINK in form["Body"]


def test_twilio_error_text_quoting_the_number_is_never_kept():
    with FakeTwilio() as fake:
        fake.mode = "invalid"
        gateway = TwilioSmsGateway(
            TWILIO_SID, TWILIO_TOKEN, sender="+447700900001", api_base_url=fake.base_url
        )
        with pytest.raises(DeliveryError) as problem:
            gateway.send(_outgoing("sms", "+447911123456"))
    assert problem.value.code == "twilio_21211" and problem.value.permanent
    assert "7911" not in problem.value.message and "7911" not in str(problem.value)


KEY = "dev-only-secret-key"


def _smtp(sender="Acme <links@acme.example>", key=KEY, **kw):
    return SmtpEmailGateway("127.0.0.1", 25, sender, message_id_key=key, starttls=False, **kw)


def test_the_email_is_multipart_text_then_html_with_an_auto_generated_mark():
    email = _smtp().build(_outgoing())
    assert email.get_content_type() == "multipart/alternative"
    text, html = email.iter_parts()
    assert text.get_content_type() == "text/plain" and LINK in text.get_content()
    assert html.get_content_type() == "text/html" and f'href="{LINK}"' in html.get_content()
    assert email["To"] == "jane@example.com"
    assert email["From"] == "Acme <links@acme.example>"
    assert email["Auto-Submitted"] == "auto-generated"


def test_the_message_id_is_stable_per_message_and_keyed_so_it_does_not_show_our_id():
    gateway = _smtp()
    first = gateway.build(_outgoing(message_id=7, attempt_number=1))["Message-ID"]
    assert gateway.build(_outgoing(message_id=7, attempt_number=2))["Message-ID"] == first
    assert _smtp(sender="links@acme.example").build(_outgoing())["Message-ID"] == first
    assert gateway.build(_outgoing(message_id=8))["Message-ID"] != first
    assert _smtp(key="another-key").build(_outgoing())["Message-ID"] != first
    assert re.fullmatch(r"<postern\.[0-9a-f]{24}@acme\.example>", first)


def test_the_message_id_domain_is_the_senders_in_ascii_and_a_sender_needs_one():
    email = _smtp(sender="Bücher <links@bücher.de>").build(_outgoing())
    assert email["Message-ID"].endswith("@xn--bcher-kva.de>")
    with pytest.raises(ValueError):
        _smtp(sender="links")
    with pytest.raises(ValueError):
        _smtp(key="")


def test_an_international_domain_is_addressed_in_its_ascii_form():
    email = _smtp().build(_outgoing(destination="user@bücher.de"))
    assert email["To"] == "user@xn--bcher-kva.de"


def test_smtp_unreachable_is_transient():
    gateway = SmtpEmailGateway(
        "127.0.0.1", free_port(), "a@acme.example", message_id_key=KEY, starttls=False, timeout=2
    )
    with pytest.raises(DeliveryError) as problem:
        gateway.send(_outgoing())
    assert (problem.value.code, problem.value.permanent) == ("smtp_unreachable", False)


def test_production_refuses_the_dev_outbox_and_missing_provider_secrets():
    problems = delivery_problems(
        {"DEV_OUTBOX_ENABLED": True, "DELIVERY_SMS_BACKEND": "dev", "DELIVERY_EMAIL_BACKEND": "dev"}
    )
    assert "DEV_OUTBOX_ENABLED must be off in production" in problems
    assert any("SMS_BACKEND" in p for p in problems) and any("EMAIL_BACKEND" in p for p in problems)
    problems = delivery_problems(
        {"DELIVERY_SMS_BACKEND": "twilio", "DELIVERY_EMAIL_BACKEND": "smtp"}
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMTP_HOST", "SMTP_FROM"):
        assert f"{name} is not set" in problems
    assert "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID must be set" in problems
    assert "SMTP needs STARTTLS or SSL unless the relay is on this host" in problems
    good = {
        "DELIVERY_SMS_BACKEND": "twilio",
        "DELIVERY_EMAIL_BACKEND": "smtp",
        "TWILIO_ACCOUNT_SID": "AC123",
        "TWILIO_AUTH_TOKEN": "real-token",
        "TWILIO_MESSAGING_SERVICE_SID": "MG123",
        "SMTP_HOST": "smtp.example.com",
        "SMTP_FROM": "links@example.com",
        "SMTP_STARTTLS": True,
    }
    assert delivery_problems(good) == []
    assert delivery_problems({**good, "TWILIO_AUTH_TOKEN": "dev-only-x"}) == [
        "TWILIO_AUTH_TOKEN holds a development-only value"
    ]
    assert delivery_problems({**good, "SMTP_USERNAME": "me"}) == ["SMTP_PASSWORD is not set"]
    assert (
        delivery_problems({**good, "DELIVERY_SMS_BACKEND": "disabled", "TWILIO_AUTH_TOKEN": ""})
        == []
    )


def test_the_production_app_refuses_to_start_with_the_dev_outbox():
    from portal import create_app

    with pytest.raises(ConfigError, match="DELIVERY_SMS_BACKEND must be 'twilio'"):
        create_app("production", {"DELIVERY_SMS_BACKEND": "dev"})
