"""Refund pages: ask for a refund of a payment, the list of refunds, one refund (approve,
reject, retry, try a failed one again). Thin: the rules live in ``portal.refunds.service`` and
``portal.refunds.retrying``."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from portal.backoffice import kept_forms
from portal.backoffice.action_forms import ActionForm, RefundForm, RejectForm
from portal.backoffice.display import operator_zone
from portal.backoffice.reauth import ask_for_reauth, needs_reauth, recently_reauthenticated
from portal.backoffice.views import bp
from portal.capture import visibility
from portal.disputes import wording as dispute_words
from portal.extensions import db
from portal.i18n import N_, gettext
from portal.models.capture import CaptureRequest
from portal.models.refund import Refund, RefundStatus
from portal.money import AmountError, format_amount, parse_amount
from portal.payments.gateway import StripeGateway
from portal.payments.service import payment_for
from portal.refunds import retrying, service, submission, wording
from portal.refunds.queries import failed_refunds, refund_standing
from portal.security.actors import client_origin, signed_in_actor
from portal.security.authz import Permission, has_permission
from portal.security.guards import requires

#: No single refund can be larger than a payment; this only bounds what parse_amount accepts.
_MAX_MAJOR = 10**9


@bp.context_processor
def _refund_helpers() -> dict:
    """For the transaction detail's actions (``_detail_actions.html``): the payment's refund
    figures, open dispute and failed refunds, and their words."""
    return {
        "refund_standing": refund_standing,
        "refund_words": wording,
        "dispute_words": dispute_words,
        "dispute_zone": operator_zone(),
    }


def _request_or_404(public_id: str) -> CaptureRequest:
    request = visibility.find_by_public_id(public_id)
    if request is None:
        abort(404)
    return request


def _refund_or_404(refund_id: int) -> Refund:
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        abort(404)
    return refund


def _amount_from(form: RefundForm, position: service.Position) -> int:
    """The amount asked for, in minor units. Raises AmountError or RefundError with a sentence
    for staff."""
    typed = (form.amount.data or "").strip()
    if form.scope.data == "full":
        if typed and parse_amount(typed, position.currency, max_major=_MAX_MAJOR) != (
            position.remaining
        ):
            # Two answers that disagree: refunding everything could send back far more than the
            # amount the clerk typed, and a refund cannot be undone. Ask rather than guess.
            raise service.RefundError(
                f'You chose "Everything that is left" '
                f"({format_amount(position.remaining, position.currency)}) but also typed an "
                'amount. To refund only that amount, choose "Part of it"; to refund '
                "everything, clear the amount."
            )
        return position.remaining
    if not (form.amount.data or "").strip():
        raise service.RefundError(N_("Enter the amount to refund."))
    return parse_amount(form.amount.data, position.currency, max_major=_MAX_MAJOR)


def _render_new(request, payment, form, error=None, status=200):
    position = service.position(payment) if payment else None
    return render_template(
        "backoffice/refund_new.html",
        request=request,
        payment=payment,
        position=position,
        standing=refund_standing(payment) if payment else None,
        refunds=service.refunds_of(payment) if payment else [],
        form=form,
        error=gettext(error) if error else error,  # a service's message, marked where raised
        money=format_amount,
        limit=service.dual_control_limit(),
        reauthenticated=recently_reauthenticated(),
        words=wording,
    ), status


def _tell(outcome: submission.SubmitOutcome) -> None:
    if outcome.ok:
        flash(
            gettext("Refund sent to Stripe: %(status)s.", status=gettext(outcome.message)),
            "success",
        )
    else:
        flash(gettext(outcome.message), "error")


@bp.route("/refunds/new/<public_id>", methods=["GET", "POST"])
@requires(Permission.REFUND_REQUEST)
def refund_new(public_id: str):
    request = _request_or_404(public_id)
    payment = payment_for(request)
    form = kept_forms.restore(RefundForm) or RefundForm()
    if not form.validate_on_submit():
        refused = form.errors or form.key_problem
        return _render_new(request, payment, form, form.key_problem, 400 if refused else 200)
    stop = needs_reauth(url_for("backoffice.refund_new", public_id=public_id), form)
    if stop is not None:
        return stop
    if payment is None:
        return _render_new(request, None, form, N_("This request has no card payment."), 409)
    try:
        amount = _amount_from(form, service.position(payment))
        refund = service.request_refund(
            payment.id,
            amount_minor=amount,
            reason_code=form.reason_code.data,
            note=form.note.data,
            requester=g.staff_user,
            reauthenticated_at=g.staff_session.reauthenticated_at,
            origin=client_origin(),
            form_key=form.form_key.data,
        )
    except service.AlreadyRequested as sent_twice:
        return _show_first_refund(sent_twice.refund)
    except service.ReauthRequired:  # it lapsed between the check above and the service's
        return ask_for_reauth(url_for("backoffice.refund_new", public_id=public_id), form)
    except (AmountError, service.RefundError) as problem:
        return _render_new(request, payment, form, str(problem), 409)
    if refund.status == RefundStatus.PENDING_APPROVAL:
        flash(
            gettext(
                "Refund of %(amount)s saved. It is above %(limit)s, so a second person must "
                "approve it before it is sent.",
                amount=format_amount(refund.amount_minor, refund.currency),
                limit=format_amount(service.dual_control_limit(), refund.currency),
            ),
            "info",
        )
    else:
        _tell(submission.submit(refund, gateway=StripeGateway.for_app(), actor=signed_in_actor()))
    return redirect(url_for("backoffice.refund_detail", refund_id=refund.id), code=303)


def _show_first_refund(refund: Refund):
    """The same form was sent twice (a double click, or again after a slow answer): nothing
    new was made or sent to Stripe; show the refund the first submission made, and its state.
    The first submission is the one that hands it to Stripe (or the retry button, later)."""
    db.session.rollback()  # end the read; the refund is loaded afresh below
    flash(
        gettext(
            "This refund was already requested: the form was sent twice, so no second refund "
            "was made. Below is the refund of %(amount)s that the first one made.",
            amount=format_amount(refund.amount_minor, refund.currency),
        ),
        "info",
    )
    return redirect(url_for("backoffice.refund_detail", refund_id=refund.id), code=303)


@bp.get("/refunds")
@requires(Permission.TRANSACTIONS_VIEW_ALL)
def refund_list():
    waiting = db.session.execute(
        select(Refund).where(Refund.status == RefundStatus.PENDING_APPROVAL).order_by(Refund.id)
    ).scalars()
    unconfirmed = db.session.execute(
        select(Refund).where(Refund.status == RefundStatus.REQUESTED).order_by(Refund.id)
    ).scalars()
    recent = db.session.execute(select(Refund).order_by(Refund.id.desc()).limit(50)).scalars()
    return render_template(
        "backoffice/refund_list.html",
        waiting=list(waiting),
        unconfirmed=list(unconfirmed),
        failed=failed_refunds(limit=50),
        recent=list(recent),
        money=format_amount,
        words=wording,
    )


@bp.get("/refunds/<int:refund_id>")
@requires(Permission.TRANSACTIONS_VIEW_ALL)
def refund_detail(refund_id: int):
    refund = _refund_or_404(refund_id)
    user = g.staff_user
    can_decide = (
        refund.status == RefundStatus.PENDING_APPROVAL
        and has_permission(user.role, Permission.REFUND_APPROVE)
        and refund.requested_by_id != user.id
    )
    may_request = has_permission(user.role, Permission.REFUND_REQUEST)
    can_retry = may_request and (
        refund.status == RefundStatus.REQUESTED or (refund.stripe_refund_id and not refund.is_final)
    )
    return render_template(
        "backoffice/refund_detail.html",
        refund=refund,
        request=refund.payment.capture_request,
        can_decide=can_decide,
        can_retry=can_retry,
        can_try_again=may_request and retrying.can_try_again(refund),
        retried_as=retrying.retry_of(refund.id),
        action_form=ActionForm(),
        reject_form=RejectForm(),
        money=format_amount,
        words=wording,
        reauthenticated=recently_reauthenticated(),
    )


@bp.post("/refunds/<int:refund_id>/approve")
@requires(Permission.REFUND_APPROVE)
def refund_approve(refund_id: int):
    refund = _refund_or_404(refund_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    back = url_for("backoffice.refund_detail", refund_id=refund.id)
    stop = needs_reauth(back)
    if stop is not None:
        return stop
    try:
        service.approve(
            refund.id,
            approver=g.staff_user,
            reauthenticated_at=g.staff_session.reauthenticated_at,
            origin=client_origin(),
        )
    except service.RefundError as problem:
        flash(gettext(str(problem)), "error")
        return redirect(back, code=303)
    flash(gettext("Refund approved."), "success")
    _tell(
        submission.submit(
            db.session.get(Refund, refund_id),
            gateway=StripeGateway.for_app(),
            actor=signed_in_actor(),
        )
    )
    return redirect(back, code=303)


@bp.post("/refunds/<int:refund_id>/reject")
@requires(Permission.REFUND_APPROVE)
def refund_reject(refund_id: int):
    refund = _refund_or_404(refund_id)
    form = RejectForm()
    back = url_for("backoffice.refund_detail", refund_id=refund.id)
    if not form.validate_on_submit():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(back, code=303)
    try:
        service.reject(
            refund.id, approver=g.staff_user, note=form.note.data, origin=client_origin()
        )
    except service.RefundError as problem:
        flash(gettext(str(problem)), "error")
        return redirect(back, code=303)
    flash(gettext("Refund rejected. No money was sent back."), "success")
    return redirect(back, code=303)


@bp.post("/refunds/<int:refund_id>/retry")
@requires(Permission.REFUND_REQUEST)
def refund_retry(refund_id: int):
    refund = _refund_or_404(refund_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    back = url_for("backoffice.refund_detail", refund_id=refund.id)
    try:
        _tell(submission.retry(refund, gateway=StripeGateway.for_app(), actor=signed_in_actor()))
    except service.WrongState as problem:
        flash(gettext(str(problem)), "error")
    return redirect(back, code=303)


@bp.post("/refunds/<int:refund_id>/try-again")
@requires(Permission.REFUND_REQUEST)
def refund_try_again(refund_id: int):
    """A failed refund, tried again: a new refund for the same amount, under the same rules
    (re-authentication, dual control above the limit, refused while a dispute is open)."""
    refund = _refund_or_404(refund_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    back = url_for("backoffice.refund_detail", refund_id=refund.id)
    stop = needs_reauth(back)
    if stop is not None:
        return stop
    try:
        again = retrying.try_again(
            refund.id,
            requester=g.staff_user,
            reauthenticated_at=g.staff_session.reauthenticated_at,
            origin=client_origin(),
        )
    except service.AlreadyRequested as tried:
        db.session.rollback()
        flash(gettext(str(tried)), "info")
        return redirect(url_for("backoffice.refund_detail", refund_id=tried.refund.id), code=303)
    except service.ReauthRequired:  # it lapsed between the check above and the service's
        return ask_for_reauth(back)
    except service.RefundError as problem:
        flash(gettext(str(problem)), "error")
        return redirect(back, code=303)
    if again.status == RefundStatus.PENDING_APPROVAL:
        flash(
            gettext(
                "New refund of %(amount)s saved. It is above %(limit)s, so a second person "
                "must approve it before it is sent.",
                amount=format_amount(again.amount_minor, again.currency),
                limit=format_amount(service.dual_control_limit(), again.currency),
            ),
            "info",
        )
    else:
        _tell(submission.submit(again, gateway=StripeGateway.for_app(), actor=signed_in_actor()))
    return redirect(url_for("backoffice.refund_detail", refund_id=again.id), code=303)
