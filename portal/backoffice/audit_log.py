"""Back office: the audit log viewer, with a banner saying whether the chain verifies now.

As with the transactions list, the filter form POSTs and is redirected to a clean GET URL, so
nothing typed into it reaches a URL before it has been checked for card numbers.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for

from portal.audit.chain_status import current_status
from portal.backoffice.filter_forms import AuditSearchForm, ParsedSearch
from portal.backoffice.views import bp
from portal.reporting import audit_queries, keyset, queries
from portal.reporting.audit_queries import AuditFilter
from portal.reporting.timeline_words import action_words, detail_words
from portal.security.authz import Permission
from portal.security.guards import requires


def _parse(source) -> ParsedSearch[AuditFilter]:
    return AuditSearchForm(
        source,
        timezone=current_app.config.get("DELIVERY_TIMEZONE") or "UTC",
        find_staff=queries.agent_id_for,
    ).search()


def _render(parsed, page, size, *, status: int = 200):
    return (
        render_template(
            "backoffice/audit_log.html",
            parsed=parsed,
            page=page,
            size=size,
            params=parsed.filter.query_params() if parsed.ok else {},
            chain=current_status(),
            action_words=action_words,
            detail_words=detail_words,
            page_sizes=keyset.PAGE_SIZES,
        ),
        status,
    )


@bp.get("/audit")
@requires(Permission.AUDIT_VIEW)
def audit_log():
    parsed = _parse(request.args)
    size = keyset.page_size(request.args.get("per_page"))
    if not parsed.ok:
        return _render(parsed, None, size, status=400)
    direction = keyset.Direction(request.args.get("after"), request.args.get("before"))
    try:
        page = audit_queries.audit_page(parsed.filter, direction, size)
    except keyset.CursorError as problem:
        parsed.errors["page"] = str(problem)
        return _render(parsed, None, size, status=400)
    return _render(parsed, page, size)


@bp.post("/audit/search")
@requires(Permission.AUDIT_VIEW)
def audit_log_search():
    parsed = _parse(request.form)
    size = keyset.page_size(request.form.get("per_page"))
    if not parsed.ok:
        return _render(parsed, None, size, status=400)
    params = parsed.filter.query_params()
    if size != keyset.DEFAULT_PAGE_SIZE:
        params["per_page"] = str(size)
    return redirect(url_for("backoffice.audit_log", **params), code=303)
