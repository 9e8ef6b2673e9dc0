"""Stripe's error responses: ``{"error": {...}}`` with Stripe's types, codes, wording and statuses.

Views raise :class:`StripeError`; the app turns it into the JSON body Stripe would send. The
wording follows what Stripe's API answers, because integrators match on it (and on the codes).
"""

from __future__ import annotations

import time
from typing import Any

DOCS = "https://docs.stripe.com"
API_KEYS_PAGE = "https://dashboard.stripe.com/account/apikeys"


class StripeError(Exception):
    """An error answer. ``saved`` says whether an idempotency key keeps it for replays.

    Stripe saves the outcome of every request that started executing (402 declines included)
    but not of requests refused before that: bad credentials, invalid parameters, rate limits.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        decline_code: str | None = None,
        param: str | None = None,
        saved: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.fields: dict[str, Any] = {
            "type": error_type,
            "message": message,
            "code": code,
            "decline_code": decline_code,
            "param": param,
            **extra,
        }
        if code and "doc_url" not in extra:
            self.fields["doc_url"] = f"{DOCS}/error-codes/{code.replace('_', '-')}"
        self.saved = saved

    def body(self, request_id: str | None) -> dict[str, Any]:
        """The response body; absent fields are left out, as Stripe does."""
        error = {key: value for key, value in self.fields.items() if value is not None}
        if request_id:
            error["request_log_url"] = (
                f"https://dashboard.stripe.com/test/logs/{request_id}?t={int(time.time())}"
            )
        return {"error": dict(sorted(error.items()))}


def invalid_request(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    status: int = 400,
    saved: bool = True,
    **extra: Any,
) -> StripeError:
    return StripeError(
        status, "invalid_request_error", message, param=param, code=code, saved=saved, **extra
    )


def parameter_missing(param: str) -> StripeError:
    return invalid_request(
        f"Missing required param: {param}.", param=param, code="parameter_missing", saved=False
    )


def parameter_unknown(param: str) -> StripeError:
    return invalid_request(
        f"Received unknown parameter: {param}", param=param, code="parameter_unknown", saved=False
    )


def parameter_invalid(
    param: str, message: str, code: str = "parameter_invalid_string"
) -> StripeError:
    return invalid_request(message, param=param, code=code, saved=False)


def resource_missing(label: str, object_id: str, param: str = "id") -> StripeError:
    """``label`` is Stripe's name in the message: payment_intent, charge, PaymentMethod..."""
    return invalid_request(
        f"No such {label}: '{object_id}'", param=param, code="resource_missing", status=404
    )


def unexpected_state(message: str, **extra: Any) -> StripeError:
    return invalid_request(message, code="payment_intent_unexpected_state", **extra)


def card_error(
    code: str,
    message: str,
    *,
    decline_code: str | None = None,
    param: str | None = None,
    **extra: Any,
) -> StripeError:
    return StripeError(
        402, "card_error", message, code=code, decline_code=decline_code, param=param, **extra
    )


def no_api_key() -> StripeError:
    return invalid_request(
        "You did not provide an API key. You need to provide your API key in the "
        "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
        "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or "
        "we can help at https://support.stripe.com/.",
        status=401,
        saved=False,
    )


def invalid_api_key(key: str) -> StripeError:
    return invalid_request(f"Invalid API Key provided: {mask_key(key)}", status=401, saved=False)


def publishable_key_refused() -> StripeError:
    return invalid_request(
        "This API call cannot be made with a publishable API key. Please use a secret API "
        f"key. You can find a list of your API keys at {API_KEYS_PAGE}.",
        status=403,
        saved=False,
    )


def unrecognized_url(method: str, path: str) -> StripeError:
    return invalid_request(
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
        status=404,
        saved=False,
    )


def rate_limited() -> StripeError:
    return invalid_request(
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        status=429,
        code="rate_limit",
        saved=False,
    )


def api_error() -> StripeError:
    return StripeError(500, "api_error", "An unknown error occurred", saved=False)


def mask_key(key: str) -> str:
    """Show a key the way Stripe's error does: its mode prefix and last four characters."""
    prefix_end = key.find("_", key.find("_") + 1) + 1 if key.count("_") >= 2 else 0
    hidden = max(len(key) - prefix_end - 4, 0)
    if hidden == 0:
        return "*" * len(key)
    return key[:prefix_end] + "*" * hidden + key[-4:]
