"""flask-smorest, fitted to Postern: what we take from the library and where we hold it back.

flask-smorest routes each operation, validates its body or query with the operation's
marshmallow schema (through webargs), serialises its answer and writes the OpenAPI document
from the same declarations. Two things are Postern's own and stay so:

- ``PosternApi`` registers no app-wide error handler and no documentation pages. The library's
  ``init_app`` would answer every HTTPException of the whole site in its JSON shape (the staff
  and customer pages must keep their HTML error pages), and its Swagger UI, ReDoc and RapiDoc
  pages load scripts from a CDN, which our CSP forbids; ``/api/v1/docs`` is our own page.
  Errors under ``/api/v1/`` are rendered by ``portal.api.errors.render_status``, registered
  through ``portal.errors.renders_own_errors``.
- ``PosternParser`` answers a bad body or query with the API's one error shape: 400 (not
  webargs' 422), ``param`` naming the first field at fault, a sentence saying what to do.
"""

from __future__ import annotations

import typing

import flask_smorest
from flask import Request
from marshmallow import Schema, ValidationError
from webargs.flaskparser import FlaskParser

from portal.api.answers import Error
from portal.api.errors import invalid


class PosternApi(flask_smorest.Api):
    """``flask_smorest.Api`` confined to ``/api/v1``: it builds the document, nothing else."""

    #: What the document's error answers carry (should a library default ever refer to it).
    ERROR_SCHEMA = Error
    #: Each operation lists its own errors, ``default`` among them (``blueprint.fails_with``).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        """Nothing app-wide: ``portal.errors`` renders each part of the site its own way."""

    def _register_doc_blueprint(self):
        """No CDN-drawn pages: ``portal.api.docs_views`` serves the document and its page."""


class PosternParser(FlaskParser):
    """webargs' Flask parser, answering in the API's error shape.

    - The body is read as JSON whatever its Content-Type says (an integration that forgets the
      header gets its fields read, not a confusing "agent is required"); an empty body is ``{}``
      (so an operation with no fields needs none sent); anything but a JSON object is refused.
    - Unknown fields follow the schema (``schemas.Strict`` refuses them), in the query too:
      webargs would otherwise drop unknown query parameters, and a misspelt filter would
      silently list everything.
    """

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION: typing.ClassVar[dict[str, str | None]] = {}

    def load_json(self, req: Request, schema: Schema) -> dict:
        raw = req.get_data(cache=True)
        if not raw.strip():
            return {}
        data = req.get_json(force=True, silent=True)
        if not isinstance(data, dict):
            raise invalid(
                None, "The body must be a JSON object, sent as application/json.", "body_invalid"
            )
        return data

    def load_querystring(self, req: Request, schema: Schema) -> dict:
        """Each parameter's first value (none of our filters takes a list)."""
        return {name: req.args.get(name) for name in req.args}

    def handle_error(
        self, error: ValidationError, req, schema, *, error_status_code, error_headers
    ) -> typing.NoReturn:
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1:
            # webargs files the messages under the location ({"json": {...}}): not a field.
            (messages,) = messages.values()
        field, message = first_problem(messages)
        raise invalid(field, message) from None


def first_problem(messages, prefix: str = "") -> tuple[str | None, str]:
    """(field, message) of the first problem in marshmallow's nested messages; the field is
    dotted for a nested one (``card.last4``), None for a problem of the whole body."""
    if isinstance(messages, dict):
        name, inner = next(iter(messages.items()))
        field = f"{prefix}.{name}" if prefix else str(name)
        if name == "_schema":
            field = prefix or None
        return first_problem(inner, field)
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, dict | list):
            return first_problem(first, prefix)
        return prefix or None, _sentence(str(first), prefix)
    return prefix or None, "This value is not valid."


def _sentence(message: str, field: str | None) -> str:
    if message == "Unknown field.":
        return f"{field} is not a field of this operation: check its spelling in the API reference."
    if message in ("Not a valid integer.", "Not a valid string.", "Field may not be null."):
        return f"{field}: {message}"
    return message
