"""The Content Security Policy, kept as data.

Nothing inline: every script and stylesheet is a file from our own origin, and the few scripts
that need it carry the per-response nonce. Stripe's origins are added only from configuration
(``STRIPE_JS_URL`` / ``STRIPE_API_BASE``) and only on the pages that load Stripe.js, so the
sandbox and real Stripe differ by settings alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: Where browsers send violation reports (``portal.csp_reports.views``): ``report-uri`` for
#: browsers that only know it, ``report-to`` (the Reporting API) naming the group that the
#: ``Reporting-Endpoints`` header points at the same path (``portal.security.headers``).
REPORT_PATH = "/csp-report"
REPORT_GROUP = "csp-endpoint"

BASE_POLICY: dict[str, list[str]] = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
    "manifest-src": ["'self'"],
    "report-uri": [REPORT_PATH],
    "report-to": [REPORT_GROUP],
}

#: Directives that get the per-response nonce (Flask-Talisman fills it in).
NONCE_DIRECTIVES = ["script-src"]

#: Referer goes to our own origin only: Flask-WTF's CSRF check needs a same-origin Referer on
#: every HTTPS form post (WTF_CSRF_SSL_STRICT), and a customer's link token (in the path of
#: every /c/<token> page) must never reach Stripe or any other origin. ``no-referrer`` would
#: satisfy the second and make every form over HTTPS fail the first.
REFERRER_POLICY = "same-origin"

#: Every page's Permissions-Policy: no powerful feature for anyone. The payment page alone
#: gets ``payment`` for Stripe.js (``payment_page_permissions_policy``).
PERMISSIONS_POLICY = {
    "accelerometer": "()",
    "camera": "()",
    "geolocation": "()",
    "gyroscope": "()",
    "magnetometer": "()",
    "microphone": "()",
    "payment": "()",
    "usb": "()",
    "interest-cohort": "()",
}


def origin_of(url: str) -> str | None:
    """Return ``scheme://host[:port]`` of ``url``, or None if it has no host."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def payment_page_permissions_policy(stripe_js_url: str) -> dict[str, str]:
    """The payment page's Permissions-Policy: the base one, except that ``payment`` (the
    Payment Request API behind Apple Pay and Google Pay) is allowed to this page and to
    Stripe.js's origin, whose iframes show the wallet buttons. Every other page keeps
    ``payment=()``. Without a usable Stripe.js origin, nothing is opened up."""
    policy = dict(PERMISSIONS_POLICY)
    js_origin = origin_of(stripe_js_url)
    if js_origin:
        policy["payment"] = f'(self "{js_origin}")'
    return policy


def base_policy() -> dict[str, list[str]]:
    """Return a fresh copy of the policy every page gets."""
    return {directive: list(sources) for directive, sources in BASE_POLICY.items()}


def sign_in_page_policy(provider_urls) -> dict[str, list[str]]:
    """The CSP of pages showing the single sign-on buttons: the base policy, except that
    ``form-action`` (which browsers apply to the redirect a form's answer makes too) admits
    each provider's origin, where the button's form is redirected."""
    policy = base_policy()
    for url in provider_urls:
        origin = origin_of(url)
        if origin and origin not in policy["form-action"]:
            policy["form-action"].append(origin)
    return policy


#: What real Stripe.js needs beyond its own origin (Stripe's published CSP list): its
#: sub-domain frames and scripts, and hooks.stripe.com for 3-D Secure challenges.
REAL_STRIPE_EXTRA = {
    "script-src": ["https://*.js.stripe.com"],
    "frame-src": ["https://*.js.stripe.com", "https://hooks.stripe.com"],
}


def payment_page_policy(stripe_js_url: str, stripe_api_base: str) -> dict[str, list[str]]:
    """Return the CSP for pages that load Stripe.js: the base policy plus Stripe's origins.

    Stripe.js needs its own origin for the script and the card iframe, and talks to the API
    origin. With real Stripe (js.stripe.com) the extra origins Stripe documents are added too;
    with the sandbox only its one origin is.
    """
    policy = base_policy()
    js_origin = origin_of(stripe_js_url)
    api_origin = origin_of(stripe_api_base)
    if js_origin:
        policy["script-src"].append(js_origin)
        policy["frame-src"] = [js_origin]
        policy["connect-src"].append(js_origin)
    if api_origin and api_origin not in policy["connect-src"]:
        policy["connect-src"].append(api_origin)
    if js_origin == "https://js.stripe.com":
        for directive, sources in REAL_STRIPE_EXTRA.items():
            policy.setdefault(directive, []).extend(sources)
    return policy
