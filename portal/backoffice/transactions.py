"""Back office: the transactions list (filters, keyset pages) and one request's detail page.

The filter form POSTs to ``transactions_search``, which redirects to the list's GET URL once
every field is valid: a card number typed into a search box is refused there and never becomes
part of a URL (URLs end up in access logs and browser history). Hand-made GET URLs are
validated in exactly the same way.
"""

from __future__ import annotations

from flask import abort, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select

from portal.backoffice.display import init_display
from portal.backoffice.filter_forms import FilterContext, ParsedSearch, TransactionSearchForm
from portal.backoffice.views import bp
from portal.capture import identity, kinds
from portal.capture.states import Status, effective_status
from portal.extensions import db
from portal.live_status import panel
from portal.live_status.standings import standing_of
from portal.models.captured_data import DataSubmission
from portal.models.payment import Payment
from portal.models.staff import Team
from portal.money import format_amount, format_known_amount
from portal.payments.staff_words import THREE_D_SECURE_WORDS, decline_words
from portal.refunds import wording as refund_wording
from portal.reporting import keyset, payment_columns, queries, timeline
from portal.reporting.filters import TransactionFilter
from portal.security.authz import Permission, has_permission

init_display(bp)


def filter_context() -> FilterContext:
    """What the filters may hold for the signed-in user (built once per request)."""
    if "backoffice_filter_context" not in g:
        config = current_app.config
        g.backoffice_filter_context = FilterContext(
            timezone=config.get("DELIVERY_TIMEZONE") or "UTC",
            currencies=tuple(config["CAPTURE_CURRENCIES"]),
            teams=queries.teams_for(g.staff_user),
            find_agent=queries.agent_id_for,
        )
    return g.backoffice_filter_context


def parse_filter(source) -> ParsedSearch[TransactionFilter]:
    """The filter in ``source`` (request.args or request.form), validated."""
    return TransactionSearchForm(source, filter_context()).search()


def _choices(context: FilterContext) -> dict:
    return {
        # The request's statuses, then what its payment reads as ("Refunded", "Disputed").
        "statuses": [(status.value, panel.LABELS[status]) for status in Status]
        + list(payment_columns.PAYMENT_FILTERS.items()),
        "kinds": list(kinds.KINDS.items()),
        "teams": list(context.teams.items()),
        "currencies": list(context.currencies),
        "currency_options": [(code, code) for code in context.currencies],
        "page_sizes": keyset.PAGE_SIZES,
    }


def render_list(parsed: ParsedSearch, page: keyset.Page | None, size: int, *, status: int = 200):
    user = g.staff_user
    return (
        render_template(
            "backoffice/transactions.html",
            parsed=parsed,
            page=page,
            size=size,
            params=parsed.filter.query_params() if parsed.ok else {},
            can_export=has_permission(user.role, Permission.EXPORT),
            team_only=not queries.sees_everything(user),
            **_choices(filter_context()),
        ),
        status,
    )


@bp.get("/transactions")
def transactions():
    parsed = parse_filter(request.args)
    size = keyset.page_size(request.args.get("per_page"))
    if not parsed.ok:
        return render_list(parsed, None, size, status=400)
    direction = keyset.Direction(request.args.get("after"), request.args.get("before"))
    try:
        page = queries.transactions_page(g.staff_user, parsed.filter, direction, size)
    except keyset.CursorError as problem:
        parsed.errors["page"] = str(problem)
        return render_list(parsed, None, size, status=400)
    return render_list(parsed, page, size)


@bp.post("/transactions/search")
def transactions_search():
    parsed = parse_filter(request.form)
    size = keyset.page_size(request.form.get("per_page"))
    if not parsed.ok:
        return render_list(parsed, None, size, status=400)
    params = parsed.filter.query_params()
    if size != keyset.DEFAULT_PAGE_SIZE:
        params["per_page"] = str(size)
    return redirect(url_for("backoffice.transactions", **params), code=303)


@bp.get("/transactions/<public_id>")
def transaction_detail(public_id: str):
    capture_request = queries.find_visible(g.staff_user, public_id)
    if capture_request is None:
        abort(404)
    payment = db.session.execute(
        select(Payment).where(Payment.capture_request_id == capture_request.id)
    ).scalar_one_or_none()
    submission = db.session.execute(
        select(DataSubmission).where(DataSubmission.capture_request_id == capture_request.id)
    ).scalar_one_or_none()
    refunds = timeline.refunds_of(payment)
    team = db.session.get(Team, capture_request.team_id) if capture_request.team_id else None
    status = effective_status(capture_request)
    paid = standing_of(payment)
    money_taken = paid is not None and paid.money_taken
    return render_template(
        "backoffice/transaction_detail.html",
        item=capture_request,
        team_name=team and team.name,
        status=status.value,
        # Once money was taken, what the payment reads as ("Refunded"), as on the list.
        status_label=paid.label if money_taken else panel.LABELS[status],
        standing=paid,
        three_d_secure=THREE_D_SECURE_WORDS.get(payment.three_d_secure or "") if payment else None,
        last_failure=payment
        and (payment.failure_code or payment.decline_code)
        and decline_words(payment.failure_code, payment.decline_code),
        cancelled_because=payment and panel.reason_words(payment.cancellation_reason),
        reason=panel.reason_words(capture_request.status_reason),
        kind_label=kinds.KINDS.get(capture_request.kind, capture_request.kind),
        field_set_label=kinds.FIELD_SETS.get(capture_request.field_set or ""),
        identity_item=identity.ITEMS.get(capture_request.identity_item or "", "None"),
        amount=format_known_amount(capture_request.amount_minor, capture_request.currency),
        payment=payment,
        card=payment and queries.card_label(payment.card_brand, payment.card_last4),
        submission=submission,
        refunds=refunds,
        entries=timeline.timeline(capture_request, payment, refunds),
        format_amount=format_amount,
        refund_status_words=refund_wording.status_words,
        refund_reason_words=refund_wording.reason_words,
    )
