"""The Stripe gateway: the only module in Postern that imports ``stripe``.

It speaks to Stripe (or the offline sandbox: the same code, only ``STRIPE_API_BASE`` differs)
through one ``stripe.StripeClient`` with a pinned API version, and hands back plain,
immutable facts (``IntentFacts``, ``ChargeFacts``, ``RefundFacts``) holding only what is safe
to keep: ids, statuses, amounts, card brand, last4, expiry, the 3-D Secure result and decline
codes. A card number or CVC never reaches Stripe through us, so none can come back through here
either.

Errors are translated into three kinds the services understand:
``ProviderUnavailable`` (try again later: network trouble, timeouts, 5xx, rate limits),
``ProviderRejected`` (Stripe refused the call as made; retrying the same call will not help) and
``WebhookSignatureInvalid`` (a webhook we must not trust).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import requests
import stripe
from flask import current_app

from portal.payments.facts import (
    ChargeFacts,
    DisputeFacts,
    IntentFacts,
    RefundFacts,
    charge_list,
    dispute_facts,
    intent_facts,
    refund_facts,
    webhook_event,
)

log = logging.getLogger("postern.payments.gateway")

#: The Stripe API version every call asks for: the one the installed SDK was generated for,
#: so response shapes never change under us when Stripe moves the account's default.
PINNED_API_VERSION = stripe.api_version
MAX_NETWORK_RETRIES = 2
WEBHOOK_TOLERANCE_SECONDS = 300
#: Charges asked for per page, and pages at most, when listing an intent's charges. An intent
#: is canceled once its failed attempts reach PAYMENT_MAX_ATTEMPTS (a handful), so one page
#: nearly always holds them all; the cap only bounds the work a runaway intent could cause.
CHARGES_PER_PAGE = 100
MAX_CHARGE_PAGES = 10
EXTENSION = "postern_stripe_gateway"


class ProviderUnavailable(RuntimeError):
    """Stripe could not be reached or did not answer usefully; the same call may work later.

    ``reason`` is a short code for logs: "timeout", "connection", "rate_limited", "server",
    "unreadable" (an answer without the fields of the object asked for).
    """

    def __init__(self, reason: str):
        super().__init__(f"payment provider unavailable ({reason})")
        self.reason = reason


class ProviderRejected(RuntimeError):
    """Stripe refused the call (4xx). ``code`` is Stripe's error code, ``status`` its HTTP
    status; neither quotes the request."""

    def __init__(self, code: str | None, status: int | None, message: str = ""):
        super().__init__(f"payment provider refused the call ({status} {code})")
        self.code, self.status, self.provider_message = code, status, message


class WebhookSignatureInvalid(ValueError):
    """The webhook's signature, timestamp or body cannot be trusted. ``reason`` says which:
    "missing", "mismatch", "stale" or "unreadable"."""

    def __init__(self, reason: str):
        super().__init__(f"webhook refused ({reason})")
        self.reason = reason


class _SessionPerThread:
    """The one ``requests.Session`` the SDK's ``RequestsClient`` is given, standing for one
    session per thread: each thread that calls Stripe gets its own on its first call and keeps
    it, so its connection to Stripe stays open and is reused.

    Per thread because ``requests`` does not document a Session as safe to share between
    threads (it keeps cookies and adapters on itself), and a worker's threads call Stripe at
    the same time. The SDK makes a session per thread by itself only when given none; given one,
    it shares it between all threads.

    The proxy settings are read from the environment once, here: by default ``requests`` reads
    the whole environment twice on every call to find them (about an eighth of the CPU of a
    call to Stripe with 35 variables, more with more). ``trust_env`` governs nothing else that
    matters here: the SDK passes its own CA bundle and Authorization header on every call.
    """

    def __init__(self, api_base: str):
        self._proxies = requests.utils.get_environ_proxies(api_base)
        self._local = threading.local()

    def session(self) -> requests.Session:
        """This thread's session, made on its first call."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
            session.proxies.update(self._proxies)
        return session

    def request(self, *args, **kwargs) -> requests.Response:
        return self.session().request(*args, **kwargs)

    def close(self) -> None:
        """Close the calling thread's session, if it has one."""
        session = getattr(self._local, "session", None)
        if session is not None:
            self._local.session = None
            session.close()


def _read(reduce, answer):
    """``reduce(answer)``, where an answer without the fields of the object asked for (a
    proxy's page passed off as JSON, an API change) is Stripe not answering usefully: the
    caller retries or tells the user, as for an outage, instead of failing with a 500."""
    try:
        return reduce(answer)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ProviderUnavailable("unreadable") from None


def _dispute_list(page) -> list[DisputeFacts]:
    data = page.to_dict() if hasattr(page, "to_dict") else dict(page)
    return [dispute_facts(item) for item in data["data"]]


def _refund_list(page) -> list[RefundFacts]:
    data = page.to_dict() if hasattr(page, "to_dict") else dict(page)
    return [refund_facts(item) for item in data["data"]]


class StripeGateway:
    """Stripe calls Postern makes. Safe to share between threads: ``for_app()`` gives the
    current app's one gateway; ``from_config()`` builds a new one."""

    def __init__(self, secret_key: str, api_base: str, timeout_seconds: float):
        self._client = stripe.StripeClient(
            secret_key,
            stripe_version=PINNED_API_VERSION,
            base_addresses={"api": api_base},
            max_network_retries=MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(
                timeout=timeout_seconds, session=_SessionPerThread(api_base)
            ),
        )

    @classmethod
    def for_app(cls) -> StripeGateway:
        """The current app's gateway, built once and shared by its threads (each thread has
        its own HTTP session: see ``_SessionPerThread``)."""
        gateway = current_app.extensions.get(EXTENSION)
        if gateway is None:
            gateway = current_app.extensions[EXTENSION] = cls.from_config()
        return gateway

    @classmethod
    def from_config(cls, config: dict | None = None) -> StripeGateway:
        config = config if config is not None else current_app.config
        if config.get("STRIPE_CA_BUNDLE"):
            # The SDK reads its CA bundle from this module attribute on every call, so it holds
            # for the whole process: one process serves one Postern, with one Stripe.
            stripe.ca_bundle_path = config["STRIPE_CA_BUNDLE"]
        return cls(
            config["STRIPE_SECRET_KEY"],
            config["STRIPE_API_BASE"],
            float(config["STRIPE_TIMEOUT_SECONDS"]),
        )

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        payment_method_types: Sequence[str] = ("card",),
        description: str | None = None,
    ) -> IntentFacts:
        """Create a PaymentIntent that may be paid with ``payment_method_types`` only.

        Named explicitly (``PAYMENT_METHOD_TYPES``), never ``automatic_payment_methods``: that
        would offer whatever the Stripe Dashboard switches on (Link, redirect methods that
        settle days later, charges without a brand or last four), which Postern does not
        handle. "card" includes Apple Pay and Google Pay in the Payment Element.

        The same ``idempotency_key`` always yields the same PaymentIntent, however often the
        call is repeated or retried. Raises ProviderUnavailable / ProviderRejected.
        """
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method_types": list(payment_method_types),
            "metadata": metadata,
        }
        if description:
            params["description"] = description
        intent = self._call(
            self._client.v1.payment_intents.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _read(intent_facts, intent)

    def retrieve_payment_intent(self, intent_id: str) -> IntentFacts:
        """The PaymentIntent as Stripe has it now, with its latest charge expanded.

        Read as plain JSON (the SDK's raw request: same client, retries, version and error
        handling) because the facts need only a few fields: building the SDK's object tree
        for the whole intent and its charge cost more CPU than the HTTP call itself.
        """
        answer = self._call(
            self._client.raw_request,
            "get",
            f"/v1/payment_intents/{quote(intent_id, safe='')}",
            expand=["latest_charge"],
        )
        return _read(intent_facts, answer.data)

    def charges_for_intent(self, intent_id: str) -> list[ChargeFacts]:
        """Every charge (every authorisation attempt, failed ones included) the PaymentIntent
        has made, newest first, as Stripe lists them now (``GET /v1/charges?payment_intent=``).

        Read as plain JSON, like ``retrieve_payment_intent``, and page by page; at most
        ``MAX_CHARGE_PAGES`` pages (an intent is canceled long before). Raises
        ProviderUnavailable / ProviderRejected.
        """
        charges: list[ChargeFacts] = []
        params: dict[str, Any] = {"payment_intent": intent_id, "limit": CHARGES_PER_PAGE}
        for _ in range(MAX_CHARGE_PAGES):
            answer = self._call(self._client.raw_request, "get", "/v1/charges", **params)
            page, more = _read(charge_list, answer.data)
            charges.extend(page)
            if not more or not page:
                break
            params["starting_after"] = page[-1].id
        else:
            log.warning("charge list cut short", extra={"payment_intent": intent_id})
        return charges

    def cancel_payment_intent(self, intent_id: str, reason: str = "abandoned") -> IntentFacts:
        """Cancel the PaymentIntent so no charge can be made with it any more.

        Idempotent in effect: an intent that is already canceled is returned as it is. An
        intent that can no longer be canceled (it succeeded) is returned as it is too, so the
        caller learns the truth instead of an error. Raises ProviderUnavailable and, for
        anything else Stripe refuses, ProviderRejected.
        """
        try:
            intent = self._call(
                self._client.v1.payment_intents.cancel,
                intent_id,
                params={"cancellation_reason": reason, "expand": ["latest_charge"]},
            )
        except ProviderRejected as refused:
            if refused.code != "payment_intent_unexpected_state":
                raise
            return self.retrieve_payment_intent(intent_id)
        return _read(intent_facts, intent)

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        reason: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> RefundFacts:
        """Refund ``amount`` of the PaymentIntent's charge. The same key always gets the same
        refund back. Raises ProviderUnavailable / ProviderRejected."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": amount,
            "metadata": metadata,
        }
        if reason:
            params["reason"] = reason
        refund = self._call(
            self._client.v1.refunds.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return _read(refund_facts, refund)

    def retrieve_refund(self, refund_id: str) -> RefundFacts:
        """The refund as Stripe has it now. Raises ProviderUnavailable / ProviderRejected."""
        return _read(refund_facts, self._call(self._client.v1.refunds.retrieve, refund_id))

    def refunds_for_intent(self, payment_intent_id: str) -> list[RefundFacts]:
        """Every refund of the PaymentIntent (up to 100, newest first)."""
        page = self._call(
            self._client.v1.refunds.list,
            params={"payment_intent": payment_intent_id, "limit": 100},
        )
        return _read(_refund_list, page)

    def retrieve_dispute(self, dispute_id: str) -> DisputeFacts:
        """The dispute as Stripe has it now. Raises ProviderUnavailable / ProviderRejected."""
        return _read(dispute_facts, self._call(self._client.v1.disputes.retrieve, dispute_id))

    def disputes_for_intent(self, payment_intent_id: str) -> list[DisputeFacts]:
        """Every dispute of the PaymentIntent's charges (up to 100, newest first)."""
        page = self._call(
            self._client.v1.disputes.list,
            params={"payment_intent": payment_intent_id, "limit": 100},
        )
        return _read(_dispute_list, page)

    def parse_webhook(self, payload: bytes, signature_header: str | None, secret: str):
        """Verify a webhook on its raw body and return the ``WebhookEvent`` it carries.

        Raises WebhookSignatureInvalid for a missing or wrong signature, a timestamp older
        than five minutes, or a body that is not the JSON that was signed.
        """
        if not signature_header:
            raise WebhookSignatureInvalid("missing")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as problem:
            stale = "tolerance" in str(problem)
            raise WebhookSignatureInvalid("stale" if stale else "mismatch") from None
        except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
            raise WebhookSignatureInvalid("unreadable") from None
        # Only the verified body is parsed, and as plain JSON: the handler needs a few ids, not
        # the SDK's Event object (building one cost more than verifying the signature).
        try:
            return webhook_event(json.loads(payload))
        except (AttributeError, TypeError, KeyError, ValueError):
            # Correctly signed, but not shaped like a Stripe event (JSON null, a list, an
            # object that is not an object): refuse it rather than fail with a 500.
            raise WebhookSignatureInvalid("unreadable") from None

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except stripe.APIConnectionError as problem:
            reason = "timeout" if "timeout" in str(problem).lower() else "connection"
            raise ProviderUnavailable(reason) from None
        except stripe.RateLimitError:
            raise ProviderUnavailable("rate_limited") from None
        except stripe.StripeError as problem:
            status = problem.http_status
            if status is None or status >= 500:
                raise ProviderUnavailable("server") from None
            if status == 409:  # a concurrent call with the same idempotency key, still running
                raise ProviderUnavailable("conflict") from None
            error = (problem.json_body or {}).get("error") or {}
            raise ProviderRejected(
                error.get("code") or problem.code, status, error.get("message") or ""
            ) from None
