"""The customer's payment step: routes added to the customer blueprint (``/c/<token>/...``).

- ``GET /c/<token>/pay``: the payment page. Stripe.js mounts the card form in Stripe's own
  iframe and confirms the payment in the browser, so nothing is POSTed here and no card data
  ever reaches Postern. This is the only page whose CSP admits Stripe's origins.
- ``GET /c/<token>/pay/status``: JSON the page polls to learn the server-side truth (asked
  from Stripe, never taken from the browser).
- ``GET /c/<token>/pay/return``: where Stripe sends the browser back after a redirect.
- ``GET /c/<token>/paid``: the confirmation page.

Every route authorises itself like the rest of the customer pages (token + binding cookie,
``portal.customer.views``). Views are thin: ``portal.payments.service`` decides.
"""

from __future__ import annotations

import logging

from flask import current_app, jsonify, redirect, render_template, url_for
from flask_limiter.util import get_remote_address

from portal.capture import identity
from portal.capture.kinds import PAYMENT_KINDS
from portal.capture.states import NOT_YET_VERIFIED, Status
from portal.customer.views import bp, ip_rate, problem_page, resolve_link
from portal.extensions import db, limiter
from portal.i18n import gettext
from portal.models.payment import PaymentStatus
from portal.money import format_amount
from portal.payments import messages, service
from portal.payments.gateway import ProviderRejected, ProviderUnavailable, StripeGateway
from portal.security.actors import customer_actor
from portal.security.headers import payment_page

log = logging.getLogger("postern.customer.payments")
CLOSED_PROBLEMS = frozenset({"expired", "revoked", "locked"})
#: Stripe's refusals of an amount: no retry helps, so the customer is not told to try later.
AMOUNT_REFUSALS = frozenset({"amount_too_small", "amount_too_large"})


def _status_rate() -> str:
    return current_app.config["RATELIMIT_PAYMENT_STATUS_PER_IP"]


def _payment_access(token: str):
    """(request, None) for a bound, identity-checked payment request, else (None, response).

    A request that closed (expired, revoked, locked) has its PaymentIntent canceled at Stripe
    before the page says so, so no open card form anywhere can still charge it.
    """
    access = resolve_link(token)
    if access.problem in CLOSED_PROBLEMS and access.request is not None:
        service.stop_quietly(
            access.request, gateway=StripeGateway.for_app(), actor=customer_actor()
        )
    if access.problem not in (None, "other_device"):
        return None, problem_page(access)
    if not access.bound_here:
        return None, redirect(url_for("customer.landing", token=token), code=303)
    capture = access.request
    if capture.kind not in PAYMENT_KINDS:
        return None, redirect(url_for("customer.summary", token=token), code=303)
    if capture.status in NOT_YET_VERIFIED:
        return None, redirect(url_for("customer.landing", token=token), code=303)
    return capture, None


def _translated(message: str | None) -> str | None:
    """A customer's message from ``portal.payments.messages`` in the page's language."""
    return gettext(message) if message else message


def _unavailable():
    db.session.rollback()
    return render_template(
        "errors/error.html",
        status=503,
        title=gettext("Card payments are not available right now"),
        detail=gettext(messages.PROVIDER_UNAVAILABLE),
    ), 503


def _amount_not_accepted():
    """Stripe does not take card payments of this amount (``AmountNotAccepted``): the link
    cannot be paid as it is, and waiting will not help, so the page does not say "try later"."""
    db.session.rollback()
    return render_template(
        "customer/problem.html",
        title=gettext("This payment cannot be taken by card"),
        text=gettext(messages.AMOUNT_NOT_ACCEPTED),
        problem="payment_amount",
    ), 422


def _stopped_page(view: service.PaymentView):
    return render_template(
        "customer/problem.html",
        title=gettext("This payment has been stopped"),
        text=_translated(view.message),
        problem="payment_" + view.state,
    ), 410


@bp.get("/<token>/pay")
@payment_page
@limiter.limit(ip_rate, key_func=get_remote_address)
def pay(token: str):
    capture, stop = _payment_access(token)
    if stop is not None:
        return stop
    try:
        view = service.start_checkout(
            capture, gateway=StripeGateway.for_app(), actor=customer_actor()
        )
    except service.AmountNotAccepted:
        return _amount_not_accepted()
    except ProviderRejected as problem:
        if problem.code in AMOUNT_REFUSALS:
            log.warning("payment amount refused by Stripe", extra={"error": problem.code})
            return _amount_not_accepted()
        log.warning("payment page without provider", extra={"error": str(problem)})
        return _unavailable()
    except ProviderUnavailable as problem:
        log.warning("payment page without provider", extra={"error": str(problem)})
        return _unavailable()
    except service.NotPayable:
        return redirect(url_for("customer.summary", token=token), code=303)
    if view.state == "succeeded":
        return redirect(url_for("customer.paid", token=token), code=303)
    if view.state in ("failed", "closed"):
        return _stopped_page(view)
    return render_template(
        "customer/pay.html",
        token=token,
        capture=capture,
        view=view,
        amount=format_amount(view.amount_minor, view.currency),
        readback=identity.display_readback(capture.readback_code),
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        return_url=url_for("customer.pay_return", token=token, _external=True),
    )


@bp.get("/<token>/pay/status")
@limiter.limit(_status_rate, key_func=get_remote_address)
def pay_status(token: str):
    """``{"state", "message", "attempts_left"}``; state is ready, processing, succeeded,
    failed or closed (see ``PaymentView``), or ``unavailable`` (503) if Stripe is down."""
    capture, stop = _payment_access(token)
    if stop is not None:
        # Whatever the reason, the page reloads itself and the server explains it there.
        db.session.commit()
        return jsonify(state="closed", message=None), 410
    try:
        view = service.current_view(
            capture, gateway=StripeGateway.for_app(), actor=customer_actor()
        )
    except (ProviderUnavailable, ProviderRejected):
        db.session.rollback()
        return jsonify(state="unavailable", message=gettext(messages.PROVIDER_UNAVAILABLE)), 503
    except service.NotPayable:
        return jsonify(state="closed", message=None), 410
    return jsonify(
        state=view.state, message=_translated(view.message), attempts_left=view.attempts_left
    )


@bp.get("/<token>/pay/return")
@limiter.limit(ip_rate, key_func=get_remote_address)
def pay_return(token: str):
    """Stripe's redirect back. Its query (payment_intent, client secret, redirect_status) is
    not trusted or kept: the outcome is asked from Stripe, then the browser moves on to a
    clean URL."""
    capture, stop = _payment_access(token)
    if stop is not None:
        return stop
    try:
        view = service.current_view(
            capture, gateway=StripeGateway.for_app(), actor=customer_actor()
        )
    except (ProviderUnavailable, ProviderRejected):
        return _unavailable()
    except service.NotPayable:
        return redirect(url_for("customer.summary", token=token), code=303)
    if view.state == "succeeded":
        return redirect(url_for("customer.paid", token=token), code=303)
    return redirect(url_for("customer.pay", token=token), code=303)


@bp.get("/<token>/paid")
@limiter.limit(ip_rate, key_func=get_remote_address)
def paid(token: str):
    capture, stop = _payment_access(token)
    if stop is not None:
        return stop
    payment = service.payment_for(capture)
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return redirect(url_for("customer.pay", token=token), code=303)
    db.session.commit()
    return render_template(
        "customer/paid.html",
        capture=capture,
        payment=payment,
        amount=format_amount(payment.amount_minor, payment.currency),
        readback=identity.display_readback(capture.readback_code),
        more_to_do=capture.status != Status.SUCCEEDED,
        token=token,
    )
