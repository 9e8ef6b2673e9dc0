"""Security headers on every response: Flask-Talisman for CSP, HSTS and friends; no-store caching.

The CSP itself is data in ``config/csp.py``.
"""

from __future__ import annotations

from flask import Flask, request
from flask_talisman import Talisman

from config import csp

#: The Reporting API's endpoint for the CSP's ``report-to`` group.
REPORTING_ENDPOINTS = f'{csp.REPORT_GROUP}="{csp.REPORT_PATH}"'
#: Endpoints whose responses may be cached: only our own static files.
CACHEABLE_ENDPOINTS = frozenset({"static"})


def init_security_headers(app: Flask) -> None:
    # One Talisman per app: Talisman keeps its settings on itself, so the shared instance would
    # carry the last app built (HTTPS redirect, HSTS) into every other app in the process. The
    # shared ``portal.extensions.talisman`` stays, for its per-view decorator.
    Talisman(
        app,
        force_https=app.config["FORCE_HTTPS"],
        force_https_permanent=True,
        strict_transport_security=True,
        strict_transport_security_max_age=app.config["HSTS_MAX_AGE"],
        strict_transport_security_include_subdomains=True,
        content_security_policy=csp.base_policy(),
        content_security_policy_nonce_in=csp.NONCE_DIRECTIVES,
        referrer_policy=csp.REFERRER_POLICY,
        permissions_policy=csp.PERMISSIONS_POLICY,
        frame_options="DENY",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        x_content_type_options=True,
    )

    @app.after_request
    def _cache_and_isolation_headers(response):
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            # Anything else may be personal or authenticated: never store it anywhere.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        # Names the endpoint of the CSP's ``report-to`` group (config/csp.py); relative, so
        # it is this host's, whatever name the browser used.
        response.headers.setdefault("Reporting-Endpoints", REPORTING_ENDPOINTS)
        return response


def payment_page_csp(app: Flask) -> dict[str, list[str]]:
    """The CSP for a page that loads Stripe.js, from this app's Stripe settings."""
    return csp.payment_page_policy(app.config["STRIPE_JS_URL"], app.config["STRIPE_API_BASE"])
