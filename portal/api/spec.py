"""What the OpenAPI 3.1 document of ``/api/v1`` says that flask-smorest cannot infer from the
operations' decorators: the title and description, the server, the bearer security scheme, the
path parameter ``request_id``, the headers of idempotency and rate limiting, operation ids (the
view's name) and the links from a new request to every operation on one request.

Everything else (paths, parameters, bodies, answers, errors) is written by the library from the
schemas that validate and serialise each call, so what is documented is what runs.
"""

from __future__ import annotations

from apispec import BasePlugin
from flask_smorest.spec.plugins import FlaskPlugin

from portal.api.idempotency import HEADER, MAX_KEY_LENGTH, REPLAYED_HEADER
from portal.api_keys.scopes import SCOPES

TITLE = "Postern API"
VERSION = "1.0.0"
OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEME = "apiKey"

DESCRIPTION = """\
Create pay-by-link and data-capture requests from a CRM or contact-centre platform, and read
what happened. Authenticate with an API key: `Authorization: Bearer pstn_live_...`. Each key
acts for one team and holds scopes. Amounts are in minor units (1250 = £12.50). Every error
has one shape: `{"error": {"type", "code", "message", "param"}}`. Every POST accepts an
`Idempotency-Key` header. See docs/api.md for a walk-through.
"""

#: A request's public id as a path parameter. It admits every id the lookup reads
#: (``portal.capture.public_ids.candidates``): old ids, 10 characters of ``[A-Za-z0-9_-]``,
#: and new ones, 9 Crockford characters in any case, with or without their two hyphens.
REQUEST_ID = {
    "in": "path",
    "name": "request_id",
    "required": True,
    "description": "The request's id, as its link and every page carry it: `K7F-3QX-2M9` "
    "(any case, hyphens optional) or, for a request made before, 10 characters such as "
    "`3l_lzxTZBH` (exactly as given).",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,20}$"},
}

IDEMPOTENCY_KEY = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "Send the same key again to get the first answer replayed, not a second "
    "action. Kept 24 hours per API key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}
#: The success answer's header when it is a replay.
REPLAYED = {
    REPLAYED_HEADER: {
        "description": "true when this is the stored answer to an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

#: The operation whose answer's ``id`` feeds every operation on one request (OpenAPI links).
LINKS_FROM = "api.create_request"
#: Where the API is mounted: the document's server, so its paths start after it.
SERVER = "/api/v1"


def spec_options() -> dict:
    """``spec_kwargs`` for ``PosternApi``."""
    return {
        "title": TITLE,
        "version": VERSION,
        "openapi_version": OPENAPI_VERSION,
        "info": {"description": DESCRIPTION},
        "servers": [{"url": SERVER}],
        "flask_plugin": PathsUnderServer(),
        "extra_plugins": [OperationIdsAndLinks()],
    }


def describe_security(api) -> None:
    """Register the bearer scheme the operations' ``security`` refers to."""
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made in the back office (or `flask apikeys create`). "
            "Scopes: " + "; ".join(f"`{name}`: {words}" for name, words in SCOPES.items()),
        },
    )


class PathsUnderServer(FlaskPlugin):
    """flask-smorest's Flask plugin, writing paths relative to ``SERVER`` (``/requests``, not
    ``/api/v1/requests``): the server names the prefix once, as OpenAPI intends."""

    def path_helper(self, rule, operations, parameters, **kwargs):
        path = super().path_helper(rule, operations, parameters, **kwargs)
        return path.removeprefix(SERVER)


class OperationIdsAndLinks(BasePlugin):
    """apispec plugin: each operation's id is its view's name (``get_request``), and the
    answer of ``LINKS_FROM`` links its ``id`` to every operation taking ``request_id``, so a
    contract tester can walk from creating a request to reading and changing it."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        if rule is None:
            return
        name = rule.endpoint.rpartition(".")[2]
        for operation in operations.values():
            operation["operationId"] = name
        if rule.endpoint != LINKS_FROM:
            return
        links = {
            target.endpoint.rpartition(".")[2]: {
                "operationId": target.endpoint.rpartition(".")[2],
                "parameters": {"request_id": "$response.body#/id"},
            }
            for target in rule.map.iter_rules()
            if target.endpoint.startswith("api.") and "<request_id>" in target.rule
        }
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    answer["links"] = links
