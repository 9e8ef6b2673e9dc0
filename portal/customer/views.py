"""The customer's side: the one-time link, Start, the identity check and the summary.

Public by design: every route authorises itself from the link token and the binding cookie,
through ``portal.capture.customer``. A GET never consumes anything (link previews fetch
links); only the Start POST binds the request to a browser.
"""

from __future__ import annotations

import hashlib

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.capture import customer, data_step, identity, kinds, links
from portal.capture.customer import LinkAccess
from portal.capture.states import NOT_YET_VERIFIED, TERMINAL
from portal.customer.forms import IdentityForm, StartForm
from portal.customer.language import CUSTOMER_PREFIX, chosen_language, remember_request_language
from portal.delivery.receipts import receipt_emailed
from portal.disputes.queries import latest_disputes
from portal.errors import CSRF_MESSAGE, forget_failed_transaction, render_error, wants_json
from portal.extensions import db, limiter
from portal.i18n import N_, gettext, ngettext
from portal.models.capture import CaptureRequest
from portal.models.dispute import DisputeStatus
from portal.models.payment import Payment
from portal.money import format_known_amount
from portal.receipts.facts import paid_payment_of, receipt_of
from portal.refunds.queries import refund_totals
from portal.security.actors import client_origin, customer_actor
from portal.security.input import BadCharacters, bad_characters_refusal

bp = Blueprint("customer", __name__)

COOKIE_PREFIX = "postern_link_"
PAYMENT_ENDPOINT = "customer.pay"
DATA_ENDPOINT = "customer.details"
#: problem -> (title, explanation), translated when shown. ``{org}`` is the organisation's name.
PROBLEM_PAGES = {
    "tampered": (
        N_("This link is not complete"),
        N_(
            "The link may have been cut short or changed when it was copied. Open it straight "
            "from the message we sent you. If it still does not work, ask the person you are "
            "speaking to for a new link."
        ),
    ),
    "foreign": (
        N_("We cannot accept this link"),
        N_(
            "This link is no longer recognised; it may be an old one. Ask the person you are "
            "speaking to for a new link. If you were not expecting a link from {org}, do not "
            "enter any details."
        ),
    ),
    "unknown": (
        N_("We cannot find this request"),
        N_("Ask the person you are speaking to for a new link."),
    ),
    "other_device": (
        N_("This link has already been used on another device"),
        N_(
            "For your security, each link works on one device only. Ask the person you are "
            "speaking to for a new link."
        ),
    ),
    "link_expired": (
        N_("This link has expired"),
        N_("Links only work for a short time. Ask the person you are speaking to for a new link."),
    ),
    "expired": (
        N_("This link has expired"),
        N_("Links only work for a short time. Ask the person you are speaking to for a new link."),
    ),
    "replaced": (
        N_("A newer link has been sent"),
        N_(
            "This link was replaced by a newer one. Use the most recent message from {org}, or ask "
            "the person you are speaking to for a new link."
        ),
    ),
    "revoked": (
        N_("This link has been cancelled"),
        N_(
            "{org} cancelled this request, so the link no longer works. If you still need to go "
            "ahead, ask the person you are speaking to for a new link."
        ),
    ),
    "finished": (
        N_("This request is already complete"),
        N_("There is nothing more to do with this link."),
    ),
    "locked": (
        N_("This link is locked"),
        N_(
            "The answer to the security question did not match our records too many times, so we "
            "locked the link to protect you. Please tell the person you are speaking to; they can "
            "help."
        ),
    ),
}


#: Link problems after which a paid request still says it was paid (never "ask for a new link"):
#: the link is genuine and current (not replaced), and the request is only closed, finished or
#: bound to another device. Only the bound device of a link not revoked sees the receipt's
#: details (``shows_receipt``); everyone else learns only that there is nothing more to pay.
PAID_PROBLEMS = frozenset({None, "other_device", "finished", "expired", "revoked"})


def ip_rate() -> str:
    """The rate limit per client address on every customer page (Flask-Limiter reads it)."""
    return current_app.config["RATELIMIT_CUSTOMER_LINK_PER_IP"]


def start_rate() -> str:
    """The rate limit per client address on Start and on sending the details form."""
    return current_app.config["RATELIMIT_CUSTOMER_START_PER_IP"]


def _identity_rate() -> str:
    return current_app.config["RATELIMIT_IDENTITY_PER_REQUEST_IP"]


def _request_and_ip_key() -> str:
    token = (request.view_args or {}).get("token", "")
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    return f"identity:{digest}:{get_remote_address()}"


@bp.after_request
def _not_for_search_engines(response):
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.errorhandler(CSRFError)
def _form_expired(_error):
    """A customer's form refused for its token (the identity answer, personal details, the
    payment page's forms): the app's page, in the language of the request the link names."""
    _remember_language_of_link_in_path()
    return render_error(400, *CSRF_MESSAGE)


@bp.errorhandler(413)
@bp.errorhandler(429)
def _refused_before_the_view(error):
    """Too large a form, or too many attempts (the identity check's limit, Start's): the app's
    page, in the request's language, as above."""
    _remember_language_of_link_in_path()
    return render_error(error.code)


@bp.errorhandler(BadCharacters)
def _hidden_character(error: BadCharacters):
    """A hidden (NUL) character pasted into a box: the app's page, in the request's language,
    as above."""
    _remember_language_of_link_in_path()
    return bad_characters_refusal(error)


@bp.before_app_request
def _language_of_an_address_that_matches_no_page() -> None:
    """A link's address that matches no page (404) or not with this method (405) reaches no
    handler of this blueprint (Flask matched no view, so no blueprint): the app's page answers,
    in the customer's frame by its path, and here in the request's language too. (Flask runs
    this hook before it raises routing's error; an untrusted Host or a redirect is left be.)"""
    no_page = isinstance(request.routing_exception, (NotFound, MethodNotAllowed))
    if no_page and request.path.startswith(CUSTOMER_PREFIX):
        _remember_language_of_link_in_path()


def _remember_language_of_link_in_path() -> None:
    """For a page drawn before (or instead of) its view: the language of the request this
    path's link names. ``resolve_link`` answers the same question for the views, with all the
    link's checks; this is its light cousin for refusals: one indexed read, only for a link one
    of our keys signed (an expired one too: its claim is ours), and none for JSON, which has no
    language, nor when the customer chose one with the switch. Anything amiss (no token, a
    forged one, the database away) leaves English: the refusal must still be drawn."""
    if wants_json() or chosen_language():
        return
    try:
        claim = links.read_token((request.view_args or {}).get("token") or _token_in_path())
    except links.LinkProblem as problem:
        claim = problem.claim if problem.kind == "expired" else None
    if claim is None:
        return
    try:
        language = db.session.execute(
            select(CaptureRequest.language).where(CaptureRequest.public_id == claim.public_id)
        ).scalar()
    except SQLAlchemyError:
        # A connection lost mid-read leaves the session needing a rollback: without one, the
        # next read in this request (the staff session of an agent opening a link) would
        # raise and turn this page into a 500.
        forget_failed_transaction()
        return
    remember_request_language(language)


def _token_in_path() -> str:
    """The link's token from the path itself, for a request no view matched: /c/<token>/..."""
    return request.path.removeprefix(CUSTOMER_PREFIX).split("/", 1)[0]


def _cookie_name(public_id: str) -> str:
    return COOKIE_PREFIX + public_id


def resolve_link(token: str) -> LinkAccess:
    """What ``token`` and this browser's binding cookie give access to (never raises). Its
    pages are in the request's language unless the customer switched (``language``)."""
    access = customer.resolve(
        token,
        lambda public_id: request.cookies.get(_cookie_name(public_id)),
        origin=client_origin(),
    )
    if access.request is not None:
        remember_request_language(access.request.language)
    return access


def problem_page(access: LinkAccess):
    """The page (and status) explaining ``access.problem`` in plain words. COMMITS."""
    db.session.commit()  # keep an expiry written down while resolving
    # Never "ask for a new link" about a payment already made (past the link's lifetime too,
    # where the link no longer proves enough to show the payment's details: not bound here).
    if access.request is not None and access.problem in PAID_PROBLEMS | {"link_expired"}:
        payment = _paid_and_closed(access.request)
        if payment is not None:
            return paid_page(access, payment)
    title, text = PROBLEM_PAGES[access.problem]
    status = customer.PROBLEM_STATUS[access.problem]
    org = current_app.config["ORG_NAME"]
    return render_template(
        "customer/problem.html",
        title=gettext(title),
        text=gettext(text).format(org=org),
        problem=access.problem,
    ), status


def current_page(token: str):
    """After a step could not be taken (locked, revoked or expired meanwhile): show what
    the link is now."""
    access = resolve_link(token)
    if access.problem is not None:
        return problem_page(access)
    return redirect(url_for("customer.landing", token=token), code=303)


def _next_step(token: str, access: LinkAccess) -> str:
    capture = access.request
    if capture.status in NOT_YET_VERIFIED and capture.identity_item:
        return url_for("customer.identity_check", token=token)
    return url_for("customer.summary", token=token)


def _paid_and_closed(request) -> Payment | None:
    """The request's succeeded payment when the request is closed (nothing left to do with
    it), else None."""
    if request.status not in TERMINAL:
        return None  # still under way: the bound device carries on, others are told as before
    return paid_payment_of(request)


def closed_payment(access: LinkAccess) -> Payment | None:
    """The payment a reopened link speaks of instead of anything else: when its request is
    closed and was paid. Whether its details are shown is ``shows_receipt``'s question."""
    if access.problem not in PAID_PROBLEMS or access.request is None:
        return None
    return _paid_and_closed(access.request)


def shows_receipt(access: LinkAccess) -> bool:
    """The receipt's details (what it was for, reference, amount, card) are shown only on the
    device the link is bound to, and never once the request was revoked: the link alone may
    have been forwarded, previewed or seen over a shoulder (DESIGN.md: nothing about a request
    before the identity check)."""
    return access.bound_here and access.problem != "revoked"


def paid_page(access: LinkAccess, payment: Payment):
    """The page of a closed, paid request: the receipt on its own device, or only "payment
    received" (and whether a receipt was emailed, never where to) anywhere else. Never an offer
    to pay again, never "ask for a new link"."""
    if not shows_receipt(access):
        # Not even a dispute's outcome: a forwarded link learns only that nothing is owed.
        return render_template(
            "customer/receipt.html",
            receipt=None,
            emailed=receipt_emailed(payment.id),
            reversed_by_bank=False,
        ), 200
    refunded, pending = refund_totals([payment.id])[payment.id]
    dispute = latest_disputes([payment.id]).get(payment.id)
    reversed_by_bank = dispute is not None and dispute.status == DisputeStatus.LOST
    facts = receipt_of(
        payment,
        refunded_minor=refunded,
        refund_pending_minor=pending,
        reversed_by_bank=reversed_by_bank,
    )
    return render_template(
        "customer/receipt.html",
        receipt=facts,
        emailed=receipt_emailed(payment.id),
        reversed_by_bank=reversed_by_bank,
    ), 200


def _to_receipt(token: str):
    db.session.commit()  # keep an expiry written down while resolving
    return redirect(url_for("customer.receipt", token=token), code=303)


@bp.get("/<token>")
@limiter.limit(ip_rate, key_func=get_remote_address)
def landing(token: str):
    """The neutral page: nothing about the request, just who we are and a Start button; or,
    once the request is closed and paid, its paid page (``paid_page``)."""
    access = resolve_link(token)
    if closed_payment(access) is not None:
        return _to_receipt(token)
    if access.problem not in (None, "other_device"):
        return problem_page(access)
    if access.bound_here:
        return redirect(_next_step(token, access), code=303)
    # Without the cookie (another browser, or SameSite=Strict withholding it on a link
    # followed from another site) the page is the same; pressing Start tells the two apart.
    customer.mark_opened(access.request, customer_actor())
    db.session.commit()
    return render_template("customer/landing.html", token=token, form=StartForm(token))


@bp.post("/<token>/start")
@limiter.limit(start_rate, key_func=get_remote_address)
def start(token: str):
    """Bind the link to this browser. Its CSRF token is the link's own (``StartForm``), checked
    here rather than by ``CSRFProtect`` (portal/security/csrf.py)."""
    form = StartForm(token)
    if not form.validate_on_submit():
        # Refused before anything is resolved (nothing expired, audited or written), in the
        # request's language.
        _remember_language_of_link_in_path()
        return render_template("customer/landing.html", token=token, form=form), 400
    access = resolve_link(token)
    if closed_payment(access) is not None:  # paid meanwhile, or Start on a stale page
        return _to_receipt(token)
    if access.problem not in (None, "other_device"):
        return problem_page(access)
    result = customer.start(access, customer_actor())
    db.session.commit()
    if result.outcome == "other_device":
        return problem_page(LinkAccess("other_device"))
    if result.outcome == "gone":
        return current_page(token)
    response = redirect(_next_step(token, access), code=303)
    if result.secret:
        response.set_cookie(
            _cookie_name(access.request.public_id),
            result.secret,
            max_age=links.max_age_seconds(),
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Strict",
            path="/c/",
        )
    return response


@bp.get("/<token>/start")
@limiter.limit(ip_rate, key_func=get_remote_address)
def start_opened_as_a_page(token: str):
    """Start's address opened as a page (a refused Start's page reloaded elsewhere, or its
    address copied): the landing page, whose Start button is the way on. Reads nothing."""
    return redirect(url_for("customer.landing", token=token), code=303)


def bound_access(token: str):
    """The access for a page past Start, or the response to send instead (problem page, or
    back to the landing page whose Start button re-sends the cookie same-site)."""
    access = resolve_link(token)
    if access.problem not in (None, "other_device"):
        return None, problem_page(access)
    if not access.bound_here:
        return None, redirect(url_for("customer.landing", token=token), code=303)
    return access, None


@bp.route("/<token>/check", methods=["GET", "POST"])
@limiter.limit(_identity_rate, key_func=_request_and_ip_key, methods=["POST"])
def identity_check(token: str):
    access, stop = bound_access(token)
    if stop is not None:
        return stop
    capture = access.request
    if capture.status not in NOT_YET_VERIFIED or not capture.identity_item:
        return redirect(url_for("customer.summary", token=token), code=303)
    form = IdentityForm()
    error, status = None, 200
    if form.validate_on_submit():
        result = customer.check_identity(access, form.answer.data, customer_actor())
        db.session.commit()
        if result.outcome == "verified":
            return redirect(url_for("customer.summary", token=token), code=303)
        if result.outcome in ("locked", "gone"):
            return current_page(token)
        form.answer.data = ""
        if result.outcome == "unreadable":
            form.answer.errors = [result.message]
        else:
            error = _wrong_answer_message(result.remaining)
        status = 400
    elif form.is_submitted():
        status = 400
    question, hint = (gettext(words) for words in identity.QUESTIONS[capture.identity_item])
    return render_template(
        "customer/identity.html",
        token=token,
        form=form,
        question=question,
        hint=hint,
        error=error,
        readback=identity.display_readback(capture.readback_code),
    ), status


def _wrong_answer_message(remaining: int) -> str:
    return ngettext(
        "That does not match our records. Check it and try again: you have %(num)d more try "
        "before this link is locked.",
        "That does not match our records. Check it and try again: you have %(num)d more tries "
        "before this link is locked.",
        remaining,
    )


@bp.get("/<token>/summary")
def summary(token: str):
    access, stop = bound_access(token)
    if stop is not None:
        return stop
    capture = access.request
    if capture.status in NOT_YET_VERIFIED:
        return redirect(_next_step(token, access), code=303)
    if closed_payment(access) is not None:
        return _to_receipt(token)
    amount = format_known_amount(capture.amount_minor, capture.currency)
    # The payment page, once the payment step is installed (portal.customer.payment_views).
    finished = capture.status in customer.FINISHED
    pay_url = (
        url_for(PAYMENT_ENDPOINT, token=token)
        if capture.kind in kinds.PAYMENT_KINDS
        and not finished
        and PAYMENT_ENDPOINT in current_app.view_functions
        else None
    )
    # The personal-data step (portal.customer.data_views) comes first while it is open.
    details_url = (
        url_for(DATA_ENDPOINT, token=token)
        if capture.kind in kinds.DATA_KINDS
        and not finished
        and DATA_ENDPOINT in current_app.view_functions
        and data_step.state_of(capture).state == "open"
        else None
    )
    if details_url and pay_url and data_step.payment_succeeded(capture):
        pay_url = None  # paid already (a bank's check finished first): only the details remain
    return render_template(
        "customer/summary.html",
        capture=capture,
        pay_url=pay_url,
        details_url=details_url,
        finished=finished,
        agent_name=capture.created_by.display_name,
        amount=amount,
        field_set=kinds.FIELD_SETS.get(capture.field_set or ""),
        wants_payment=capture.kind in kinds.PAYMENT_KINDS,
        wants_data=capture.kind in kinds.DATA_KINDS,
        readback=identity.display_readback(capture.readback_code),
    )


@bp.get("/<token>/receipt")
@limiter.limit(ip_rate, key_func=get_remote_address)
def receipt(token: str):
    """The page of a closed, paid request (``paid_page``): on the link's own device, what the
    receipt email says and any refund; elsewhere only that it was paid. Anything else goes back
    to the landing page (or its problem page), which knows what the link is now."""
    access = resolve_link(token)
    payment = closed_payment(access)
    if payment is None:
        if access.problem not in (None, "other_device"):
            return problem_page(access)
        db.session.commit()
        return redirect(url_for("customer.landing", token=token), code=303)
    db.session.commit()
    return paid_page(access, payment)
