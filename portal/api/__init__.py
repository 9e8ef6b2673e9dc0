"""The integration API, ``/api/v1``: machines (a CRM, a contact-centre platform) create and
follow capture requests with an API key, under the same services, rules and audit as people.

Built on flask-smorest (``smorest``: the library, confined to this part of the site):
``blueprint`` (the gate: API key, scope, rate; the decorators views declare themselves with),
``schemas`` and ``answers`` (marshmallow: what comes in and goes out, validated, serialised and
documented by the library), ``spec`` (what the OpenAPI 3.1 document says that the library
cannot infer), ``errors`` (the one error shape), ``idempotency``, the views
(``requests_views``, ``listing_views``, ``refunds_views``, ``events_views``, ``docs_views``),
``lookups`` (what a call names, within the key's team) and ``serialise``.
"""

from __future__ import annotations

from flask import Flask

from portal.api.blueprint import URL_PREFIX, bp


def register_api(app: Flask) -> None:
    """Mount the API, document it, and make every error under it answer in its error shape."""
    from portal.api import (  # noqa: F401  (their operations join the blueprint)
        docs_views,
        events_views,
        listing_views,
        refunds_views,
        requests_views,
    )
    from portal.api.errors import render_status
    from portal.api.smorest import PosternApi
    from portal.api.spec import describe_security, spec_options
    from portal.errors import renders_own_errors

    api = PosternApi(app, spec_kwargs=spec_options())
    describe_security(api)
    api.register_blueprint(bp, url_prefix=URL_PREFIX)
    renders_own_errors(app, f"{URL_PREFIX}/", render_status)
