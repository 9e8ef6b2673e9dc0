"""Reaching the payment page as a customer's browser does, for ``flask integrity``.

The payment page exists only for a link that was started in this browser and passed its
identity check, so the check walks there like a customer: open the link, press Start (a
CSRF-protected POST; the session keeps the binding cookie), answer the identity question if
there is one, and follow the summary's "Continue to payment" link. No JavaScript runs and no
card details are typed: nothing is paid.

``probe_link`` creates the link to walk for unattended runs (cron): a small payment request
made by a named staff account, without an identity question, which ``close_probe`` revokes
afterwards (cancelling its PaymentIntent at Stripe). Everything is audited like any request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from urllib.parse import urljoin, urlsplit

import requests

from portal.payment_page.page_check import BROWSER_HEADERS, TIMEOUT_SECONDS, FetchError

#: How many pages the walk may take before giving up (landing, check, summary, pay...).
MAX_STEPS = 6
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_PAY_LINK = re.compile(r'href="([^"]+/pay)"')
PROBE_REFERENCE = "INTEGRITY-CHECK"


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise FetchError("the page has no form token")
    return unescape(match.group(1) or match.group(2))


def reach_payment_page(
    session: requests.Session,
    url: str,
    mask_path: Callable[[str], str],
    payment_path: str,
    answer: str | None = None,
) -> str:
    """Walk from ``url`` (a link, or any page of it) to its payment page, whose masked path is
    ``payment_path``; return the payment page's URL. Raises FetchError on any other turn."""
    for _ in range(MAX_STEPS):
        try:
            response = session.get(url, headers=BROWSER_HEADERS, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as problem:
            raise FetchError(f"could not fetch {url}: {type(problem).__name__}") from None
        url = response.url
        where = mask_path(urlsplit(url).path)
        if response.status_code != 200:
            raise FetchError(f"{where} answered {response.status_code} on the way to payment")
        if where == payment_path:
            return url
        url = _next_url(session, url, where, response.text, answer)
    raise FetchError("the payment page was not reached")


def _next_url(session, url: str, where: str, html: str, answer: str | None) -> str:
    if where.endswith("/summary"):
        link = _PAY_LINK.search(html)
        if not link:
            raise FetchError("the summary offers no payment page (is it a payment request?)")
        return urljoin(url, unescape(link.group(1)))
    if where.endswith("/check"):
        if not answer:
            raise FetchError("the link asks an identity question: give --answer")
        return _post(session, url, {"answer": answer}, _csrf(html))
    if re.search(r'action="[^"]*/start"', html):
        return _post(session, url.rstrip("/") + "/start", {}, _csrf(html))
    raise FetchError(f"unexpected page {where} on the way to payment")


def _post(session, url: str, data: dict, token: str) -> str:
    headers = {**BROWSER_HEADERS, "Referer": url}
    try:
        response = session.post(
            url, data={**data, "csrf_token": token}, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except requests.RequestException as problem:
        raise FetchError(f"could not post to {url}: {type(problem).__name__}") from None
    if response.status_code != 200:
        raise FetchError(f"posting to {urlsplit(url).path} answered {response.status_code}")
    return response.url


def probe_link(username: str, base_url: str) -> tuple[str, str]:
    """Create a small payment request as staff member ``username``, for the check to walk.
    Returns (public id, link URL on ``base_url``). The caller commits. Raises LookupError for
    an unknown or disabled account, CaptureError from the capture service."""
    from flask import current_app

    from portal import audit
    from portal.capture import service as capture_service
    from portal.charge_limits import minimum
    from portal.staff import login

    user = login.find_user(username)
    if user is None or not user.is_active:
        raise LookupError(f"no active staff account named {username!r}")
    spec = capture_service.RequestSpec(
        kind="payment",
        reference=PROBE_REFERENCE,
        expiry_minutes=5,
        channel="copy",
        # The smallest amount Stripe takes in the currency: a payable request, never charged.
        amount_minor=minimum(current_app.config["CAPTURE_CURRENCIES"][0]),
        currency=current_app.config["CAPTURE_CURRENCIES"][0],
        purpose="Automated payment-page integrity check (nothing is charged)",
    )
    issued = capture_service.create_request(user, spec, actor=audit.CLI)
    return issued.request.public_id, urljoin(base_url, urlsplit(issued.url).path)


def close_probe(public_id: str) -> None:
    """Revoke the probe's request and stop its PaymentIntent. Commits."""
    from sqlalchemy import select

    from portal import audit
    from portal.capture import service as capture_service
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.payments import service as payments
    from portal.payments.gateway import StripeGateway

    request = db.session.execute(
        select(CaptureRequest).where(CaptureRequest.public_id == public_id)
    ).scalar_one()
    try:
        capture_service.revoke(request, actor=audit.CLI)
    except capture_service.CaptureError:
        db.session.rollback()
        return
    db.session.commit()
    payments.stop_quietly(request, gateway=StripeGateway.for_app(), actor=audit.CLI)
