"""Every failure under ``/api/v1`` in one JSON shape, Stripe-style:

    {"error": {"type": "...", "code": "...", "message": "...", "param": "..." | null}}

``type`` says what kind of failure (``ERROR_TYPES``), ``code`` which one exactly, ``message``
what to do about it in plain words, ``param`` the field of the request at fault, if one is.
Views raise ``ApiError``; what Flask and the rest of the app raise (404 for no route, 405,
429, 500, a database that went away) is turned into the same shape by ``render_status``,
which ``portal.errors`` calls for this part of the site.
"""

from __future__ import annotations

from flask import Response, jsonify

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
PERMISSION = "permission_error"
NOT_FOUND = "not_found"
IDEMPOTENCY = "idempotency_error"
RATE_LIMIT = "rate_limit_error"
API_ERROR = "api_error"
ERROR_TYPES = (
    INVALID_REQUEST,
    AUTHENTICATION,
    PERMISSION,
    NOT_FOUND,
    IDEMPOTENCY,
    RATE_LIMIT,
    API_ERROR,
)

#: Status -> (type, code, message) for failures no view words itself.
BY_STATUS: dict[int, tuple[str, str, str]] = {
    400: (INVALID_REQUEST, "bad_request", "The request could not be read. Check it and try again."),
    401: (
        AUTHENTICATION,
        "invalid_api_key",
        "Send a valid API key as 'Authorization: Bearer <key>'. Keys are made in the back office.",
    ),
    403: (PERMISSION, "missing_scope", "This API key does not have the scope for this operation."),
    404: (NOT_FOUND, "not_found", "Nothing was found at this address."),
    405: (INVALID_REQUEST, "method_not_allowed", "This address does not accept that method."),
    409: (IDEMPOTENCY, "conflict", "The request conflicts with another one in progress."),
    413: (INVALID_REQUEST, "too_large", "The request body is larger than we accept."),
    415: (INVALID_REQUEST, "unsupported_media_type", "Send the body as application/json."),
    429: (
        RATE_LIMIT,
        "rate_limited",
        "Too many requests with this API key. Wait for the number of seconds in Retry-After.",
    ),
    500: (API_ERROR, "internal_error", "Something went wrong on our side. Please try again."),
    503: (
        API_ERROR,
        "service_unavailable",
        "The service is temporarily unavailable. Please try again in a minute.",
    ),
}


class ApiError(Exception):
    """A failure to answer in the error shape; raised by views and the services' adapters."""

    def __init__(
        self,
        status: int,
        error_type: str,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.error_type, self.code = status, error_type, code
        self.message, self.param, self.headers = message, param, headers or {}

    def response(self) -> Response:
        return error_response(
            self.status, self.error_type, self.code, self.message, self.param, self.headers
        )


def error_body(error_type: str, code: str, message: str, param: str | None = None) -> dict:
    return {"error": {"type": error_type, "code": code, "message": message, "param": param}}


def error_response(
    status: int,
    error_type: str,
    code: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify(error_body(error_type, code, message, param))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="postern-api"'
    return response


def render_status(status: int, message: str | None = None) -> Response:
    """The error shape for a bare HTTP ``status`` (no view chose the words; ``message``: the
    site's own words for it, such as a Host we do not answer to)."""
    error_type, code, words = BY_STATUS.get(status, BY_STATUS[500])
    if status not in BY_STATUS and 400 <= status < 500:
        error_type, code, words = INVALID_REQUEST, "bad_request", BY_STATUS[400][2]
        return error_response(status, error_type, code, message or words)
    return error_response(
        status if status in BY_STATUS else 500, error_type, code, message or words
    )


def invalid(param: str | None, message: str, code: str = "parameter_invalid") -> ApiError:
    return ApiError(400, INVALID_REQUEST, code, message, param)


def not_found(message: str = "No capture request with this id.") -> ApiError:
    return ApiError(404, NOT_FOUND, "resource_missing", message)
