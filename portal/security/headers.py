"""Security headers on every response: Flask-Talisman for CSP, HSTS and friends; no-store caching.

The CSP itself is data in ``config/csp.py``. Every page gets the base policy; the payment page
alone (``payment_page``) gets the policy that admits Stripe's origins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_talisman import Talisman

from config import csp

#: The Reporting API's endpoint for the CSP's ``report-to`` group.
REPORTING_ENDPOINTS = f'{csp.REPORT_GROUP}="{csp.REPORT_PATH}"'
#: Endpoints whose responses may be cached: our own static files, Apple Pay's public
#: domain-association file and the favicon (``portal.well_known``).
CACHEABLE_ENDPOINTS = frozenset(
    {"static", "well_known.apple_pay_domain_association", "well_known.favicon"}
)
#: Where ``init_security_headers`` keeps the app's own Talisman, in ``app.extensions``.
EXTENSION = "talisman"


def init_security_headers(app: Flask) -> None:
    # One Talisman per app: Talisman keeps its settings on itself, so the shared instance would
    # carry the last app built (HTTPS redirect, HSTS) into every other app in the process. The
    # shared ``portal.extensions.talisman`` stays, for its per-view decorator.
    app.extensions[EXTENSION] = _Talisman(
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


class _Talisman(Talisman):
    """Talisman with the options of a view that sets none of its own, and the text of the base
    CSP, worked out once per endpoint instead of four times a request (the headers are the
    same: tests/security/test_headers.py). A view with options of its own (``payment_page``,
    ``sign_in_page``) is worked out afresh each time, as before: its options follow the app."""

    def __init__(self, *args, **kwargs):
        self._endpoint_options: dict[str | None, dict] = {}
        self._policy_parts: dict[tuple, list[tuple[str, bool]]] = {}
        super().__init__(*args, **kwargs)

    def _get_local_options(self):
        endpoint = request.endpoint
        if hasattr(current_app.view_functions.get(endpoint), "talisman_view_options"):
            return super()._get_local_options()
        options = self._endpoint_options.get(endpoint)
        if options is None:
            options = self._endpoint_options[endpoint] = super()._get_local_options()
        return options

    def _parse_policy(self, policy):
        if policy is not self.content_security_policy or isinstance(policy, str):
            return super()._parse_policy(policy)
        nonce_in = tuple(self._get_local_options()["content_security_policy_nonce_in"])
        parts = self._policy_parts.get(nonce_in)
        if parts is None:
            parts = self._policy_parts[nonce_in] = [
                (
                    f"{section} {content if isinstance(content, str) else ' '.join(content)}",
                    section in nonce_in,
                )
                for section, content in policy.items()
            ]
        if not hasattr(request, "csp_nonce"):
            return "; ".join(part for part, _ in parts)
        nonce = f" 'nonce-{request.csp_nonce}'"
        return "; ".join(part + nonce if wants else part for part, wants in parts)


def payment_page_csp(app: Flask) -> dict[str, list[str]]:
    """The CSP for a page that loads Stripe.js, from this app's Stripe settings."""
    return csp.payment_page_policy(app.config["STRIPE_JS_URL"], app.config["STRIPE_API_BASE"])


def payment_page_permissions(app: Flask) -> dict[str, str]:
    """The Permissions-Policy for the payment page: ``payment`` for Stripe.js's origin (Apple
    Pay and Google Pay in the Payment Element), from this app's Stripe settings."""
    return csp.payment_page_permissions_policy(app.config["STRIPE_JS_URL"])


def sign_in_page_csp(app: Flask) -> dict[str, list[str]]:
    """The CSP for a page with single sign-on buttons, from this app's providers."""
    providers = app.config.get("SSO_PROVIDERS") or ()
    return csp.sign_in_page_policy(provider.issuer for provider in providers)


class _OptionsOfTheServingApp(dict):
    """A view's Flask-Talisman options (``view.talisman_view_options``), worked out for the app
    serving the request, every time they are asked for.

    Talisman fills a view's options in with ``setdefault`` from the first app that serves it and
    keeps them, on the view function, which every app in the process shares; a plain dict would
    pin that app's settings (its HTTPS redirect, its Stripe origins) on the view for all the
    others. So nothing is ever stored here: ``own`` maps each option the view sets itself to how
    it is worked out from the app, and every other option is whatever the serving app's
    Talisman applies to all its pages.
    """

    def __init__(self, own: dict[str, Callable[[Flask], Any]]):
        super().__init__()
        self._own = own

    def __missing__(self, key: str) -> Any:
        if key in self._own:
            return self._own[key](current_app)
        return getattr(current_app.extensions[EXTENSION], key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        return self[key]


def payment_page(view: Callable) -> Callable:
    """Decorator: ``view`` gets the payment page's CSP, which admits Stripe's origins, and its
    Permissions-Policy, which lets Stripe's frames use the Payment Request API (wallets), both
    built from the serving app's Stripe settings on each request; no other page gets them.
    Every other header is the serving app's usual one."""
    view.talisman_view_options = _OptionsOfTheServingApp(
        {
            "content_security_policy": payment_page_csp,
            "content_security_policy_nonce_in": lambda _app: csp.NONCE_DIRECTIVES,
            "permissions_policy": payment_page_permissions,
        }
    )
    return view


def sign_in_page(view: Callable) -> Callable:
    """Decorator: ``view`` shows the single sign-on buttons, whose forms lead on to the
    providers; its CSP's ``form-action`` admits their origins (``sign_in_page_csp``), worked
    out for the serving app on each request. Every other header is the app's usual one."""
    view.talisman_view_options = _OptionsOfTheServingApp(
        {
            "content_security_policy": sign_in_page_csp,
            "content_security_policy_nonce_in": lambda _app: csp.NONCE_DIRECTIVES,
        }
    )
    return view
