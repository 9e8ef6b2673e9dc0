"""The shared pieces of the ``/v1/`` API: the sandbox object, authentication, view registration.

Views are plain functions registered with :func:`api_route`; they read parameters with
:func:`params` and return a dict (sent as JSON) or raise :class:`errors.StripeError`.
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from . import errors, idempotency
from .config import SandboxSettings
from .faults import FaultBook
from .params import Params, parse_form
from .responses import json_response
from .state import Store
from .webhooks import WebhookDispatcher

EXTENSION = "stripe_sandbox"
blueprint = Blueprint("api", __name__)


class Sandbox:
    """One sandbox instance: its settings, state, armed faults and webhook sender."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.store = Store()
        self.faults = FaultBook(settings.fault_timeout_seconds)
        self.webhooks = WebhookDispatcher(self.store, settings)

    def reset(self) -> None:
        """Forget every object, event, delivery, recorded call and fault; keep configuration."""
        self.faults.clear()
        self.webhooks.reset()
        self.store.clear()

    def close(self) -> None:
        self.faults.clear()
        self.webhooks.stop()


def current_sandbox() -> Sandbox:
    return current_app.extensions[EXTENSION]


def now() -> int:
    return int(time.time())


def params() -> Params:
    """This request's parameters (query string and form body), nested as Stripe reads them.

    ``key`` is left out: it carries the publishable key, as Stripe.js sends it.
    """
    if "params" not in g:
        pairs = [*request.args.items(multi=True), *request.form.items(multi=True)]
        g.params = Params(parse_form((k, v) for k, v in pairs if k != "key"))
    return g.params


def key_kind() -> str:
    """``secret`` or ``publishable``: which of the configured keys authenticated this call."""
    return g.key_kind


def authenticate(settings: SandboxSettings) -> None:
    """Identify the API key as Stripe does, or raise its 401 error.

    Accepted: ``Authorization: Bearer <key>``, HTTP Basic with the key as user name (curl
    ``-u``), and, for the publishable key only, a ``key`` parameter as Stripe.js sends it.
    """
    key, from_parameter = _presented_key()
    if not key:
        raise errors.no_api_key()
    if key == settings.secret_key and not from_parameter:  # secret keys never go in URLs
        g.key_kind = "secret"
    elif key == settings.publishable_key:
        g.key_kind = "publishable"
    else:
        raise errors.invalid_api_key(key)
    g.api_key = key


def _presented_key() -> tuple[str | None, bool]:
    """The key and whether it came as a ``key`` parameter rather than a header."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip(), False
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials).decode().partition(":")[0], False
        except ValueError:
            return None, False
    return request.values.get("key"), True


def api_route(
    rule: str, methods: list[str], *, publishable: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an API view.

    The view runs with the store locked (one API call at a time) and under the idempotency
    contract. Unless ``publishable``, a publishable key is refused with Stripe's 403, as on
    every call Stripe.js does not make.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def run_view(**kwargs: Any) -> Response:
            if key_kind() == "publishable" and not publishable:
                raise errors.publishable_key_refused()
            sandbox = current_sandbox()

            def call() -> Response:
                result = view(**kwargs)
                return result if isinstance(result, Response) else json_response(result)

            with sandbox.store.lock:
                return idempotency.run(sandbox.store, call)

        blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=run_view, methods=methods)
        return view

    return decorator
