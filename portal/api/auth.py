"""Who is calling ``/api/v1``: the API key in ``Authorization: Bearer``, its scopes and its rate.

Only the key authenticates here. The staff session loader skips this part of the site
(``portal.init_staff_sessions``), so a staff cookie sent along opens nothing: without a key,
401. The per-key rate limit counts in Flask-Limiter's storage (Redis in production), after the
key is known, so nobody can spend another integration's allowance by naming its key.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request
from limits import parse

from portal.api.errors import AUTHENTICATION, PERMISSION, RATE_LIMIT, ApiError
from portal.api_keys import service as keys
from portal.audit import Actor
from portal.extensions import db, limiter
from portal.models.api_key import ApiKey
from portal.security.actors import client_origin

#: ``g`` attribute holding the calling ``ApiKey``.
CURRENT_KEY = "api_key"


def bearer_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate_request() -> ApiKey:
    """The key this request carries, authenticated, rate-limited and noted as used. Raises
    ApiError 401 (no, unknown or revoked key) or 429 (over the key's rate, or an address
    that sent too many refused keys: a valid key is never refused for its neighbours'
    mistakes, say a forgotten job with a revoked key behind the same proxy)."""
    text = bearer_key()
    if text is None:
        _refuse_if_guessing()
        raise ApiError(
            401,
            AUTHENTICATION,
            "missing_api_key",
            "Send your API key as 'Authorization: Bearer <key>'. Keys are made in the back office.",
        )
    key = keys.authenticate(text)
    if key is None:
        _refuse_if_guessing()
        _count_failure()
        raise ApiError(
            401,
            AUTHENTICATION,
            "invalid_api_key",
            "This API key is not valid or was revoked. Check it, or ask an administrator for a "
            "new one.",
        )
    _spend_allowance(key)
    if keys.note_use(key):
        db.session.commit()
    setattr(g, CURRENT_KEY, key)
    return key


def _failures_limit():
    return parse(current_app.config["API_AUTH_FAILURES_PER_IP"])


def _refuse_if_guessing() -> None:
    """429 for a client address that sent too many refused keys lately: every credential
    check is rate-limited, even one no guess can win (a key holds 256 random bits)."""
    address = request.remote_addr or "unknown"
    if limiter.limiter.test(_failures_limit(), "api-auth-failures", address):
        return
    raise ApiError(
        429,
        RATE_LIMIT,
        "too_many_failed_authentications",
        "Too many requests with a wrong API key from this address. Check the key, then try "
        "again in a minute.",
        headers={"Retry-After": "60"},
    )


def _count_failure() -> None:
    limiter.limiter.hit(_failures_limit(), "api-auth-failures", request.remote_addr or "unknown")


def _spend_allowance(key: ApiKey) -> None:
    item = parse(current_app.config["API_RATE_LIMIT"])
    strategy = limiter.limiter
    if strategy.hit(item, "api-key", key.lookup_id):
        return
    reset = strategy.get_window_stats(item, "api-key", key.lookup_id).reset_time
    wait = max(1, math.ceil(reset - time.time()))
    raise ApiError(
        429,
        RATE_LIMIT,
        "rate_limited",
        f"Too many requests with this API key (the limit is "
        f"{current_app.config['API_RATE_LIMIT']}). Try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def current_key() -> ApiKey:
    return g.get(CURRENT_KEY)


def key_actor() -> Actor:
    """The calling key as the audit trail's actor, from this client."""
    key = current_key()
    return Actor.api_key(key.prefix, key.name, client_origin())


def has_scope(scope: str) -> bool:
    key = current_key()
    return key is not None and scope in key.scope_set


def require_scope(scope: str) -> None:
    if not has_scope(scope):
        raise ApiError(
            403,
            PERMISSION,
            "missing_scope",
            f"This API key does not have the {scope} scope. An administrator can create a key "
            "that has it.",
        )


def needs_scope(scope: str) -> Callable:
    """Decorator: the view runs only for a key holding ``scope`` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            require_scope(scope)
            return view(*args, **kwargs)

        wrapped.api_scope = scope
        return wrapped

    return decorator
