"""CSRF protection: on for every form and every POST, with exemptions listed here and only here.

Exempt blueprints authenticate each request by other means: Stripe webhooks by the signature
over the raw body.
"""

from __future__ import annotations

from flask import Flask

from portal.extensions import csrf

#: The only places CSRF protection is off, and why.
CSRF_EXEMPT_BLUEPRINTS: dict[str, str] = {
    "webhooks": "Stripe signs each webhook; the signature is checked on the raw body.",
}


def init_csrf(app: Flask) -> None:
    csrf.init_app(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            csrf.exempt(blueprint)
