"""Sending email with the standard library: ``smtplib`` and ``email.message.EmailMessage``.

Each message is multipart/alternative (plain text first, then HTML). The SMTP server's reply
text can quote the recipient's address, so it is never stored or logged: failures are mapped
by reply code to our own words. 4xx replies and network trouble are transient (retried),
5xx replies are permanent.

Every attempt at one outbox message carries the same Message-ID (see ``message_id_header``), so
if a message is ever sent twice (a worker killed between the server's acceptance and our
record of it: see ``portal.delivery.worker``) the receiving side can recognise the repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from email_validator import EmailNotValidError, validate_email

from portal.delivery.gateways import SMTP, DeliveryError, OutgoingMessage, SendResult

UNREACHABLE_WORDS = "Could not reach the email server. We will try again."
BUSY_WORDS = "The email server asked us to try again later. We will try again."
SETUP_WORDS = "The email server rejected our set-up. Tell your administrator."
REFUSED_WORDS = "The email server refused this address. Check it with the customer."
REJECTED_WORDS = "The email server refused this message (error {code})."
UTF8_WORDS = (
    "The email server cannot deliver to addresses with accented or non-Latin letters "
    "before the @. Try a text message instead."
)


def _recipient(destination: str) -> str:
    """The address to put on the envelope: an internationalised domain in its ASCII form."""
    try:
        checked = validate_email(destination, check_deliverability=False)
    except EmailNotValidError:
        raise DeliveryError("email_invalid", REFUSED_WORDS, permanent=True) from None
    return checked.ascii_email or checked.normalized


def message_id_header(message_id: int, key: str, domain: str) -> str:
    """The Message-ID of outbox message ``message_id``: the same on every attempt, different for
    every message, and without our sequential id (an HMAC of it, keyed with ``key``, tells
    nothing about how many messages we send). Shaped like ``email.utils.make_msgid``'s.
    """
    digest = hmac.new(key.encode(), f"delivery.message-id:{message_id}".encode(), hashlib.sha256)
    return f"<postern.{digest.hexdigest()[:24]}@{domain}>"


def _classify_reply(code: int) -> DeliveryError:
    if 400 <= code < 500:
        return DeliveryError(f"smtp_{code}", BUSY_WORDS, permanent=False)
    return DeliveryError(f"smtp_{code}", REJECTED_WORDS.format(code=code), permanent=True)


class SmtpEmailGateway:
    backend = SMTP

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        message_id_key: str,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 10,
    ):
        if not host or not sender:
            raise ValueError("SMTP_HOST and SMTP_FROM must be set")
        _local, at, domain = parseaddr(sender)[1].rpartition("@")
        if not (at and domain and message_id_key):
            raise ValueError("SMTP_FROM must be an address and SECRET_KEY must be set")
        self.host, self.port, self.sender = host, port, sender
        # Message-IDs are ASCII: an internationalised sending domain goes in its IDNA form.
        self.domain, self.message_id_key = domain.encode("idna").decode("ascii"), message_id_key
        self.username, self.password = username, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout

    @classmethod
    def from_config(cls, config) -> SmtpEmailGateway:
        return cls(
            config["SMTP_HOST"],
            int(config["SMTP_PORT"]),
            config["SMTP_FROM"],
            message_id_key=config["SECRET_KEY"],
            username=config.get("SMTP_USERNAME", ""),
            password=config.get("SMTP_PASSWORD", ""),
            starttls=config.get("SMTP_STARTTLS", True),
            use_ssl=config.get("SMTP_SSL", False),
            timeout=config.get("SMTP_TIMEOUT_SECONDS", 10),
        )

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The email as it will be sent (multipart/alternative: text, then HTML)."""
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = Address(addr_spec=_recipient(message.destination))
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = message_id_header(
            message.message_id, self.message_id_key, self.domain
        )
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.text_body)
        if message.html_body:
            email.add_alternative(message.html_body, subtype="html")
        return email

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.use_ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            try:
                smtp.starttls(context=context)
            except smtplib.SMTPNotSupportedError:
                smtp.close()
                # Never fall back to plain text: the message carries a secret link.
                raise DeliveryError("smtp_no_starttls", SETUP_WORDS, permanent=False) from None
            except BaseException:
                smtp.close()
                raise
        return smtp

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand the email to the SMTP server. Returns its Message-ID; raises DeliveryError."""
        email = self.build(message)
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as problem:
            codes = [code for code, _reply in problem.recipients.values()]
            code = codes[0] if codes else 550
            if 400 <= code < 500:
                raise DeliveryError(f"smtp_{code}", BUSY_WORDS, permanent=False) from None
            raise DeliveryError(f"smtp_{code}", REFUSED_WORDS, permanent=True) from None
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as problem:
            raise DeliveryError(f"smtp_{problem.smtp_code}", SETUP_WORDS, permanent=False) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError("smtp_no_smtputf8", UTF8_WORDS, permanent=True) from None
        except smtplib.SMTPResponseException as problem:
            raise _classify_reply(problem.smtp_code) from None
        except (smtplib.SMTPException, OSError):
            raise DeliveryError("smtp_unreachable", UNREACHABLE_WORDS, permanent=False) from None
        return SendResult(provider_message_id=email["Message-ID"])
