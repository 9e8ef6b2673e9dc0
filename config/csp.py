"""The Content Security Policy, kept as data.

Nothing inline: every script and stylesheet is a file from our own origin, and the few scripts
that need it carry the per-response nonce. Stripe's origins are added only from configuration
(``STRIPE_JS_URL`` / ``STRIPE_API_BASE``) and only on the pages that load Stripe.js, so the
sandbox and real Stripe differ by settings alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

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
}

#: Directives that get the per-response nonce (Flask-Talisman fills it in).
NONCE_DIRECTIVES = ["script-src"]

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


def base_policy() -> dict[str, list[str]]:
    """Return a fresh copy of the policy every page gets."""
    return {directive: list(sources) for directive, sources in BASE_POLICY.items()}


def payment_page_policy(stripe_js_url: str, stripe_api_base: str) -> dict[str, list[str]]:
    """Return the CSP for pages that load Stripe.js: the base policy plus Stripe's origins.

    Stripe.js needs its own origin for the script and the card iframe, and talks to the API
    origin. Real Stripe also uses hooks.stripe.com for 3-D Secure frames; operators add it
    through STRIPE_JS_URL's origin list if their account needs it.
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
        policy["frame-src"].append("https://hooks.stripe.com")
    return policy
