"""CSP violation reports: read what a browser sent, keep only what is evidence, store it.

Knows nothing of HTTP. Two formats arrive at the same endpoint: ``application/csp-report``
(``report-uri``: one ``{"csp-report": {...}}`` object) and ``application/reports+json`` (the
Reporting API: a list of reports, of which only ``csp-violation`` ones are kept).

Nothing personal is kept: the referrer, script sample, user agent and original policy are
dropped; every URI loses its query string, fragment and user info; a path of our own (which
may carry a customer's link token) is masked with the name of the route's parameter, e.g.
``/c/<token>/pay``; ``data:`` and other non-HTTP URIs keep only their scheme.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from portal.extensions import db
from portal.models.csp_report import URI_LENGTH, CspReport

CSP_REPORT, REPORTS_JSON = "csp-report", "reports+json"
#: Reports kept from one body at most (the Reporting API batches them).
MAX_REPORTS_PER_BODY = 20
#: What browsers put in blocked-uri instead of a URL.
KEYWORDS = frozenset(
    {"inline", "eval", "wasm-eval", "self", "trusted-types-policy", "trusted-types-sink"}
)
#: Route parameters whose value is kept when masking our own paths (not secret, and needed to
#: tell which file a report is about).
KEPT_PARAMETERS = frozenset({"filename"})
_PRINTABLE = re.compile(r"[^\x20-\x7e]")
#: A path segment that could be a secret (link tokens are far longer).
_LONG_SEGMENT = re.compile(r"[^/]{20,}")
_MAX_INT = 2**31 - 1


class ReportError(ValueError):
    """The body is not a CSP report in either format."""


@dataclass(frozen=True)
class Violation:
    report_format: str
    document_uri: str | None
    blocked_uri: str | None
    effective_directive: str | None
    violated_directive: str | None
    disposition: str | None
    source_file: str | None
    line_number: int | None
    column_number: int | None
    status_code: int | None


def path_masker(app: Flask) -> Callable[[str], str]:
    """A function that masks the parameters of our own routes in a path: ``/c/<token>/pay``."""

    def mask(path: str) -> str:
        adapter = app.url_map.bind("localhost")
        for method in ("GET", "POST"):
            try:
                rule, arguments = adapter.match(path, method=method, return_rule=True)
            except RequestRedirect as redirect:
                return mask(urlsplit(redirect.new_url).path)
            except MethodNotAllowed:
                continue
            except HTTPException:
                break
            masked = rule.rule
            for name in KEPT_PARAMETERS & set(arguments):
                kept = str(arguments[name])
                masked = re.sub(rf"<(?:[^<>:]+:)?{re.escape(name)}>", lambda _, v=kept: v, masked)
            return masked
        # Not one of our routes: still never keep anything long enough to be a token.
        return _LONG_SEGMENT.sub("<redacted>", path)

    return mask


def clean_uri(value, mask_path: Callable[[str], str]) -> str | None:
    """A reported URI with nothing personal left in it (see the module docstring)."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = _PRINTABLE.sub("", value.strip())
    if value in KEYWORDS:
        return value
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        return scheme or "unknown"
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    origin = f"{scheme}://{host}" + (f":{port}" if port else "")
    return (origin + mask_path(parts.path or "/"))[:URI_LENGTH]


def _text(value, length: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _PRINTABLE.sub("", value.strip())[:length]


def _number(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= _MAX_INT else None


def _violation(fmt: str, raw: dict, mask_path: Callable[[str], str]) -> Violation:
    """One report body, in either format's spelling (``blocked-uri`` or ``blockedURL``)."""

    def pick(*names):
        return next((raw[name] for name in names if name in raw), None)

    effective = _text(pick("effective-directive", "effectiveDirective"), 64)
    violated = _text(pick("violated-directive", "violatedDirective"), 200)
    return Violation(
        report_format=fmt,
        document_uri=clean_uri(pick("document-uri", "documentURL"), mask_path),
        blocked_uri=clean_uri(pick("blocked-uri", "blockedURL"), mask_path),
        effective_directive=effective or (violated.split()[0] if violated else None),
        violated_directive=violated,
        disposition=_text(pick("disposition"), 16),
        source_file=clean_uri(pick("source-file", "sourceFile"), mask_path),
        line_number=_number(pick("line-number", "lineNumber")),
        column_number=_number(pick("column-number", "columnNumber")),
        status_code=_number(pick("status-code", "statusCode")),
    )


def parse(body: bytes, fmt: str, mask_path: Callable[[str], str]) -> list[Violation]:
    """The violations in ``body`` (format ``CSP_REPORT`` or ``REPORTS_JSON``), cleaned.
    Raises ReportError for anything that is not a report in that format."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ReportError("not JSON") from None
    if fmt == CSP_REPORT:
        if not isinstance(document, dict) or not isinstance(document.get("csp-report"), dict):
            raise ReportError('expected {"csp-report": {...}}')
        return [_violation(fmt, document["csp-report"], mask_path)]
    if fmt != REPORTS_JSON or not isinstance(document, list):
        raise ReportError("expected a list of reports")
    violations = []
    for report in document[:MAX_REPORTS_PER_BODY]:
        if not isinstance(report, dict) or report.get("type") != "csp-violation":
            continue
        if isinstance(report.get("body"), dict):
            violations.append(_violation(fmt, report["body"], mask_path))
    return violations


def store(violations: list[Violation]) -> list[CspReport]:
    """Add a row per violation to the current transaction; the caller commits."""
    rows = [CspReport(**asdict(violation)) for violation in violations]
    db.session.add_all(rows)
    return rows
