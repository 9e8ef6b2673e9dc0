"""The ``/api/v1`` blueprint (a ``flask_smorest.Blueprint``) and its gate: every operation needs
an API key, except the OpenAPI document and its reference page (``PUBLIC_ENDPOINTS``).

Views declare themselves with the library's decorators (``bp.route``, ``bp.arguments``,
``bp.response``, ``bp.alt_response``, ``bp.doc``) and two of ours that are Postern's rules, not
plumbing: ``needs_scope`` and ``portal.api.idempotency.idempotent``. ``fails_with`` documents
the errors an operation can answer, all in the one error schema.
"""

from __future__ import annotations

from collections.abc import Callable

import flask_smorest
from flask import Blueprint as FlaskBlueprint
from flask import request

from portal.api import auth, spec
from portal.api.answers import Error
from portal.api.errors import BY_STATUS, ApiError
from portal.api.smorest import PosternParser

URL_PREFIX = spec.SERVER  # one place: the mount point is also the document's server


class ApiBlueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = PosternParser()


bp = ApiBlueprint(
    "api", __name__, description="Capture requests, their payments, refunds and events."
)

#: What anyone may read without a key: the API's description, nothing of anyone's data.
PUBLIC_ENDPOINTS = frozenset({"api.openapi", "api.reference"})
#: Every authenticated operation can answer these, whatever it does.
COMMON_ERRORS = (400, 401, 403, 429)


@bp.before_request
def _gate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    auth.authenticate_request()
    return None


@bp.errorhandler(ApiError)
def _api_error(problem: ApiError):
    return problem.response()


def undocumented_route(rule: str, view: Callable) -> None:
    """Route ``view`` on the blueprint, behind its gate, but outside the OpenAPI document (the
    document and its page do not describe themselves)."""
    FlaskBlueprint.add_url_rule(bp, rule, view.__name__, view)


def needs_scope(scope: str) -> Callable:
    """Decorator: the view runs only for a key holding ``scope`` (else 403), and the document
    names the scope as the operation's security requirement."""

    def decorator(view: Callable) -> Callable:
        guarded = auth.needs_scope(scope)(view)
        return bp.doc(security=[{spec.SECURITY_SCHEME: [scope]}])(guarded)

    return decorator


def fails_with(*statuses: int) -> Callable:
    """Decorator documenting the errors the operation answers: ``statuses`` besides the
    ``COMMON_ERRORS`` and a ``default`` for a fault on our side, each in the error schema."""

    def decorator(view: Callable) -> Callable:
        for status in sorted({*COMMON_ERRORS, *statuses}, reverse=True):
            view = bp.alt_response(
                status,
                schema=Error,
                description=BY_STATUS[status][2],
                headers=spec.RETRY_AFTER if status == 429 else None,
            )(view)
        return bp.alt_response("default", schema=Error, description=BY_STATUS[500][2])(view)

    return decorator
