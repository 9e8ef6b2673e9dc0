"""The customer's personal-data step: routes added to the customer blueprint (``/c/<token>/...``).

- ``GET /c/<token>/details``: who is asking, why, how long it is kept and the privacy notice
  (``personal_data.service.notice_for``), then the form for the request's field set.
- ``POST /c/<token>/details``: a plain form POST (CSRF on, no JavaScript needed): the details
  (validated, encrypted, stored with the notice version the page showed). A decline posted
  here (``wants_to_decline``, an older page) only leads to the question below.
- ``GET /c/<token>/details/decline``: "Are you sure?" on a page of its own, so one stray tap
  on "I do not want to give these details" never ends the request; ``POST`` there (CSRF on)
  records the decline.
- ``GET /c/<token>/details/done``: the confirmation (a reference to quote, and for a request
  that also takes a payment, the way on to it as step 2 of 2) or the decline.

Every route authorises itself like the other customer pages (token + binding cookie, after
the identity check). What a decision does to the request is ``portal.capture.data_step``'s
business; no value typed here is ever logged, flashed or shown to the agent.
"""

from __future__ import annotations

import logging

from flask import current_app, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address

from portal.capture import data_step, identity
from portal.capture.kinds import BOTH, DATA_KINDS
from portal.capture.states import NOT_YET_VERIFIED
from portal.card_numbers import contains_pan
from portal.customer.forms import DeclineForm
from portal.customer.views import (
    PAYMENT_ENDPOINT,
    bound_access,
    bp,
    current_page,
    ip_rate,
    start_rate,
)
from portal.extensions import db, limiter
from portal.money import format_known_amount
from portal.personal_data import service as data_service
from portal.security.actors import customer_actor

log = logging.getLogger("postern.customer.data")


def _pay_url(token: str) -> str | None:
    if PAYMENT_ENDPOINT in current_app.view_functions:
        return url_for(PAYMENT_ENDPOINT, token=token)
    return None


def _data_access(token: str):
    """(request, None) for a bound, identity-checked data request, else (None, response)."""
    access, stop = bound_access(token)
    if stop is not None:
        return None, stop
    capture = access.request
    if capture.status in NOT_YET_VERIFIED:
        return None, redirect(url_for("customer.landing", token=token), code=303)
    if capture.kind not in DATA_KINDS:
        return None, redirect(url_for("customer.summary", token=token), code=303)
    return capture, None


def _after_decision(token: str, step: data_step.StepState):
    """Where a customer goes for the data step's ``step``: the form while it is open, the
    payment while the bank checks one, else the confirmation (which leads on to a payment
    still to come: the customer is told their details arrived before being asked to pay)."""
    if step.state == "open":
        return redirect(url_for("customer.details", token=token), code=303)
    pay_url = _pay_url(token) if step.state == "pay_first" else None
    if pay_url:
        return redirect(pay_url, code=303)
    if step.state in ("sent", "declined"):
        return redirect(url_for("customer.details_done", token=token), code=303)
    return redirect(url_for("customer.summary", token=token), code=303)


@bp.route("/<token>/details", methods=["GET", "POST"])
@limiter.limit(ip_rate, key_func=get_remote_address, methods=["GET"])
@limiter.limit(start_rate, key_func=get_remote_address, methods=["POST"])
def details(token: str):
    capture, stop = _data_access(token)
    if stop is not None:
        return stop
    step = data_step.state_of(capture)
    if step.state != "open":
        return _after_decision(token, step)
    notice = data_service.notice_for(capture)
    if request.method == "POST" and data_service.wants_to_decline(request.form):
        # Never in one tap: ask first (an older copy of the page may still post it here).
        return redirect(url_for("customer.details_decline", token=token), code=303)
    form = data_service.build_form(notice.field_set.name)
    status = 200
    if request.method == "GET" and data_step.mark_shown(capture, customer_actor()):
        db.session.commit()
    if form.validate_on_submit():
        cleaned, shown = form.cleaned(), form.notice_version.data
        try:
            return _decide(
                token, capture, lambda: data_step.send(capture, cleaned, shown, customer_actor())
            )
        except data_service.DataCaptureError as problem:
            # The form and the service check with the same rules (``validate_value``), so this
            # is not expected; should they ever disagree, the customer sees the field's message
            # on the form again, never an error page.
            db.session.rollback()
            _show_refusal(form, problem)
            log.warning("data step: the service refused what the form accepted")
    if form.is_submitted():
        _forget_card_numbers(form)
        status = 400
    return render_template(
        "customer/details.html",
        token=token,
        form=form,
        notice=notice,
        steps=capture.kind == BOTH,
        readback=identity.display_readback(capture.readback_code),
    ), status


@bp.route("/<token>/details/decline", methods=["GET", "POST"])
@limiter.limit(ip_rate, key_func=get_remote_address, methods=["GET"])
@limiter.limit(start_rate, key_func=get_remote_address, methods=["POST"])
def details_decline(token: str):
    """ "Are you sure?": the decline is recorded only when the customer confirms it here."""
    capture, stop = _data_access(token)
    if stop is not None:
        return stop
    step = data_step.state_of(capture)
    if step.state != "open":
        return _after_decision(token, step)
    form = DeclineForm()
    if form.validate_on_submit():
        notice_version = data_service.notice_for(capture).notice_version
        return _decide(
            token,
            capture,
            lambda: data_step.decline(capture, notice_version, customer_actor()),
        )
    return render_template(
        "customer/details_decline.html",
        token=token,
        form=form,
        asked_for_payment=capture.kind == BOTH,
        paid=capture.kind == BOTH and data_step.payment_succeeded(capture),
        readback=identity.display_readback(capture.readback_code),
    ), 400 if form.is_submitted() else 200


def _show_refusal(form, problem: Exception) -> None:
    """Put the service's refusal (``"<field name>: <message>"``) on its field of ``form``."""
    name, _, message = str(problem).partition(": ")
    names = form.field_set.field_names
    field = form[name] if name in names else form[names[0]]
    field.errors = [message or "Check this and send it again."]
    form.form_errors = []
    form._errors = None  # WTForms caches ``form.errors``: let it gather the new message


def _forget_card_numbers(form) -> None:
    """Everything typed is shown again to be corrected, except a card number: the page refuses
    it (``NoCardNumbers``) and never echoes it back."""
    for field in form.data_fields():
        parts = getattr(field, "parts", None)
        if parts is not None:
            if contains_pan(" ".join(parts.values())):
                field.parts = dict.fromkeys(parts, "")
        elif contains_pan(field.data or ""):
            field.data = ""


def _decide(token: str, capture, decision):
    """Run ``decision`` (send or decline), commit, and move the customer on."""
    kind = capture.kind
    try:
        step = decision()
    except data_step.StepClosed:
        db.session.rollback()
        return current_page(token)
    except data_service.AlreadyDecided:
        # A double submission: the first one counts; show where that left things.
        db.session.rollback()
        return redirect(url_for("customer.details", token=token), code=303)
    db.session.commit()
    if kind == BOTH and step.state == "declined":
        _stop_unpaid_payment(capture)
    return _after_decision(token, step)


def _stop_unpaid_payment(capture) -> None:
    """A payment-and-details request the customer declined takes no money: stop a payment
    page they may have opened first (``portal.payments`` cancels the PaymentIntent of a
    request that can no longer be paid; it commits its own work and never raises)."""
    from portal.payments import service as payments
    from portal.payments.gateway import StripeGateway

    payment = payments.payment_for(capture)
    if payment is None or payment.stripe_payment_intent_id is None or payment.is_final:
        return
    payments.stop_quietly(capture, gateway=StripeGateway.for_app(), actor=customer_actor())


@bp.get("/<token>/details/done")
@limiter.limit(ip_rate, key_func=get_remote_address)
def details_done(token: str):
    capture, stop = _data_access(token)
    if stop is not None:
        return stop
    step = data_step.state_of(capture)
    if step.state not in ("sent", "declined"):
        return _after_decision(token, step)
    # Details received and a payment still to come: say so, then lead on to step 2 of 2.
    pay_url = _pay_url(token) if step.state == "sent" and step.then == "payment" else None
    paid = capture.kind == BOTH and data_step.payment_succeeded(capture)
    amount = None
    if capture.kind == BOTH:
        amount = format_known_amount(capture.amount_minor, capture.currency)
    return render_template(
        "customer/details_done.html",
        capture=capture,
        decided=step.state,
        asked_for_payment=capture.kind == BOTH,
        paid=paid,
        amount=amount,
        pay_url=pay_url,
        readback=identity.display_readback(capture.readback_code),
    )
