"""Stripe's ``Idempotency-Key`` contract for POST requests.

The first request with a key is carried out and its answer saved, keyed by (API key, key).
The same key with the same parameters replays that answer byte for byte, flagged with
``Idempotent-Replayed: true``; with other parameters or another endpoint it is refused with
``idempotency_error``. Answers refused before the API acted (bad parameters, 401, 429, 500)
are not saved, so retrying those really retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Response, g, request

from . import errors
from .responses import error_response
from .state import Store

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class SavedAnswer:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    body: bytes


def _request_params() -> tuple[tuple[str, str], ...]:
    return tuple(sorted([*request.args.items(multi=True), *request.form.items(multi=True)]))


def run(store: Store, call: Callable[[], Response]) -> Response:
    """Run ``call`` (an API view) under the idempotency contract; the caller holds the lock."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return _answer(call)[0]
    if len(key) > MAX_KEY_LENGTH:
        raise errors.invalid_request(
            f"Invalid Idempotency-Key: keys must be at most {MAX_KEY_LENGTH} characters.",
            saved=False,
        )
    scope = (g.api_key, key)
    params = _request_params()
    saved = store.idempotent_results.get(scope)
    if saved is not None:
        if (saved.method, saved.path) != (request.method, request.path):
            raise _idempotency_error(
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{saved.method} {saved.path}' vs "
                f"'{request.method} {request.path}'). Try using a key other than '{key}' if "
                "you meant to execute a different request."
            )
        if saved.params != params:
            raise _idempotency_error(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request."
            )
        g.idempotent_replay = True
        replay = Response(saved.body, status=saved.status, mimetype="application/json")
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    response, keep = _answer(call)
    if keep:
        store.idempotent_results[scope] = SavedAnswer(
            request.method, request.path, params, response.status_code, response.get_data()
        )
    return response


def _answer(call: Callable[[], Response]) -> tuple[Response, bool]:
    try:
        return call(), True
    except errors.StripeError as error:
        return error_response(error), error.saved


def _idempotency_error(message: str) -> errors.StripeError:
    return errors.StripeError(400, "idempotency_error", message, saved=False)
