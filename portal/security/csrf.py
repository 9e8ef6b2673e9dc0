"""CSRF protection: on for every form and every POST, with exemptions listed here and only here.

Exempt blueprints authenticate each request by other means: Stripe webhooks by the signature
over the raw body. Two single views are exempt too: single sign-on's back-channel logout, which
an identity provider's server calls with a logout token it signs, and the customer's Start,
which checks a CSRF token of its own, bound to the link instead of the session. CSP violation
reports are the one unauthenticated exemption: they can only add a row of non-personal
evidence, so there is nothing for a forged request to do.
"""

from __future__ import annotations

from flask import Flask

from portal.extensions import csrf

#: The only places CSRF protection is off, and why.
CSRF_EXEMPT_BLUEPRINTS: dict[str, str] = {
    "webhooks": "Stripe signs each webhook; the signature is checked on the raw body.",
    "api": (
        "The integration API authenticates every call by its API key in the Authorization "
        "header, which a browser never adds by itself; staff cookies open nothing there."
    ),
    "csp_reports": (
        "Browsers send CSP violation reports without cookies or tokens; the endpoint only "
        "stores size- and rate-limited reports, stripped of anything personal, and changes "
        "nothing else."
    ),
}


#: Single views exempt on an otherwise protected blueprint (endpoint: why).
CSRF_EXEMPT_VIEWS: dict[str, str] = {
    "auth.sso_backchannel_logout": (
        "An identity provider's server posts signed logout tokens (OIDC Back-Channel Logout) "
        "without a session or token; the token's signature by the provider authenticates the "
        "call, and all it can do is end sessions."
    ),
    "customer.start": (
        "Start's form carries a token bound to the link rather than the session, so the "
        "customer's landing page writes no session; the view checks it (signed for this link, "
        "not expired, posted from this site: portal.customer.forms.LinkBoundCSRF)."
    ),
}


def init_csrf(app: Flask) -> None:
    csrf.init_app(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            csrf.exempt(blueprint)
    for endpoint in CSRF_EXEMPT_VIEWS:
        view = app.view_functions.get(endpoint)
        if view is not None:
            csrf.exempt(view)
