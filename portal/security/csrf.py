"""CSRF protection: on for every form and every POST, with exemptions listed here and only here.

Exempt blueprints authenticate each request by other means: Stripe webhooks by the signature
over the raw body. CSP violation reports are the one unauthenticated exemption: they can only
add a row of non-personal evidence, so there is nothing for a forged request to do.
"""

from __future__ import annotations

from flask import Flask

from portal.extensions import csrf

#: The only places CSRF protection is off, and why.
CSRF_EXEMPT_BLUEPRINTS: dict[str, str] = {
    "webhooks": "Stripe signs each webhook; the signature is checked on the raw body.",
    "csp_reports": (
        "Browsers send CSP violation reports without cookies or tokens; the endpoint only "
        "stores size- and rate-limited reports, stripped of anything personal, and changes "
        "nothing else."
    ),
}


def init_csrf(app: Flask) -> None:
    csrf.init_app(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            csrf.exempt(blueprint)
