"""Sending texts through Twilio's Messages API with the official ``twilio`` SDK.

Only the SDK talks to Twilio. ``TWILIO_API_BASE_URL`` replaces Twilio's API origin (tests point
it at a local stand-in that answers like the Messages API); it is empty in production.

Twilio's error text can quote the number it refused, so it is never stored or logged: errors
are mapped by their Twilio code (https://www.twilio.com/docs/api/errors) to our own words.

A text has no equivalent of an email's stable Message-ID, and the Messages API takes no
idempotency key: if a worker is killed between Twilio's acceptance and our record of it (see
``portal.delivery.worker``), the resend reaches the customer as a second, identical text.
"""

from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from portal.delivery.gateways import TWILIO, DeliveryError, OutgoingMessage, SendResult

#: The SDK logs every request's URL and headers at INFO; only its warnings are worth keeping.
sdk_log = logging.getLogger("postern.delivery.twilio_sdk")
sdk_log.setLevel(logging.WARNING)

#: Twilio error codes that another attempt cannot fix: (our code, words for the agent).
PERMANENT_ERRORS: dict[int, str] = {
    21211: "The mobile number is not valid. Check it with the customer and send again.",
    21214: "The mobile number cannot be reached. Check it with the customer and send again.",
    21612: "That number cannot receive texts from us. Try email instead.",
    21614: "That number is not a mobile number, so it cannot receive texts. Try email instead.",
    21610: "The customer has asked not to receive texts from us (they replied STOP). "
    "Try email instead.",
    21408: "We are not allowed to send texts to that country. Try email instead.",
    21635: "That number cannot receive texts from us. Try email instead.",
}
#: Codes that mean our own set-up is wrong; retried, because an operator can fix it in time.
SETUP_ERRORS = {20003, 20404, 21606, 21659, 21660, 21703, 21704}
SETUP_WORDS = "The text message service rejected our set-up. Tell your administrator."
UNAVAILABLE_WORDS = "The text message service is not available just now. We will try again."
UNREACHABLE_WORDS = "Could not reach the text message service. We will try again."


def classify_twilio_error(status: int | None, code: int | None) -> DeliveryError:
    """Map a Twilio API error (HTTP status and Twilio code) to a plain DeliveryError."""
    if code in PERMANENT_ERRORS:
        return DeliveryError(f"twilio_{code}", PERMANENT_ERRORS[code], permanent=True)
    if code in SETUP_ERRORS or status in (401, 403):
        return DeliveryError(f"twilio_{code or status}", SETUP_WORDS, permanent=False)
    if status is None or status == 429 or status >= 500:
        return DeliveryError(f"twilio_http_{status or 'none'}", UNAVAILABLE_WORDS, permanent=False)
    return DeliveryError(
        f"twilio_{code or status}",
        f"The text message service refused this message (error {code or status}).",
        permanent=True,
    )


class TwilioSmsGateway:
    backend = TWILIO

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sender: str = "",
        messaging_service_sid: str = "",
        api_base_url: str = "",
        timeout: float = 10,
    ):
        if not (sender or messaging_service_sid):
            raise ValueError("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID must be set")
        self.sender, self.messaging_service_sid = sender, messaging_service_sid
        # max_retries=0: the outbox worker owns retries, with backoff and a record of each.
        http_client = TwilioHttpClient(timeout=timeout, max_retries=0, logger=sdk_log)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        if api_base_url:
            self.client.api.base_url = api_base_url.rstrip("/")

    @classmethod
    def from_config(cls, config) -> TwilioSmsGateway:
        return cls(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            sender=config.get("TWILIO_FROM", ""),
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID", ""),
            api_base_url=config.get("TWILIO_API_BASE_URL", ""),
            timeout=config.get("TWILIO_TIMEOUT_SECONDS", 10),
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand the text to Twilio. Returns its message SID; raises DeliveryError."""
        origin = (
            {"messaging_service_sid": self.messaging_service_sid}
            if self.messaging_service_sid
            else {"from_": self.sender}
        )
        try:
            created = self.client.messages.create(
                to=message.destination, body=message.text_body, **origin
            )
        except (TwilioRestException, TwilioServiceException) as problem:
            raise classify_twilio_error(problem.status, problem.code) from None
        except requests.RequestException:
            raise DeliveryError("twilio_unreachable", UNREACHABLE_WORDS, permanent=False) from None
        except TwilioException:
            raise DeliveryError("twilio_client_error", UNAVAILABLE_WORDS, permanent=False) from None
        # Accepted is accepted: even without a SID, sending again would text the customer twice.
        return SendResult(provider_message_id=created.sid or "twilio-accepted-without-sid")
