"""``POST /csp-report``: where browsers report Content Security Policy violations.

Public and CSRF-exempt by necessity (browsers send reports without cookies or tokens; the
exemption is listed in ``portal.security.csrf``), so it is kept small and hard to abuse: two
content types only, a size limit (``CSP_REPORT_MAX_BYTES``) and a nesting limit checked before
any parsing, a per-IP rate limit, at most ``MAX_REPORTS_PER_BODY`` rows per body, nothing
personal stored (``portal.payment_page.reports``) and nothing else changed. A refusal answers
with a short JSON error, ``{"error": "..."}``, that never quotes the body.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from flask_limiter.util import get_remote_address

from config.csp import REPORT_PATH
from portal.extensions import db, limiter
from portal.payment_page import reports

bp = Blueprint("csp_reports", __name__)
log = logging.getLogger("postern.integrity.csp")

CONTENT_TYPES = {
    "application/csp-report": reports.CSP_REPORT,
    "application/reports+json": reports.REPORTS_JSON,
}


def _rate() -> str:
    return current_app.config["RATELIMIT_CSP_REPORT_PER_IP"]


def _empty(status: int):
    return "", status


def _refused(status: int, error: str):
    return jsonify(error=error), status


@bp.post(REPORT_PATH)
@limiter.limit(_rate, key_func=get_remote_address)
def receive():
    """204 when stored (or when the body held no CSP violation); 400 unreadable (not UTF-8,
    not JSON, nested too deep, not a report), 413 too large, 415 another content type, 429 too
    many from this address."""
    fmt = CONTENT_TYPES.get(request.mimetype)
    if fmt is None:
        return _refused(415, f"send {' or '.join(CONTENT_TYPES)}")
    limit = int(current_app.config["CSP_REPORT_MAX_BYTES"])
    too_large = f"a report body may be at most {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        return _refused(413, too_large)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return _refused(413, too_large)
    try:
        violations = reports.parse(body, fmt, reports.path_masker(current_app))
    except reports.ReportError as problem:
        return _refused(400, str(problem))
    reports.store(violations)
    db.session.commit()
    for violation in violations:
        log.warning(
            "content security policy violation",
            extra={
                "directive": violation.effective_directive,
                "blocked": violation.blocked_uri,
                "document": violation.document_uri,
                "disposition": violation.disposition,
            },
        )
    return _empty(204)
