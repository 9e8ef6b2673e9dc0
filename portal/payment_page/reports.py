"""CSP violation reports: read what a browser sent, keep only what is evidence, store it.

Knows nothing of HTTP. Two formats arrive at the same endpoint: ``application/csp-report``
(``report-uri``: one ``{"csp-report": {...}}`` object) and ``application/reports+json`` (the
Reporting API: a list of reports, of which only ``csp-violation`` ones are kept).

Nothing personal is kept: the referrer, script sample, user agent and original policy are
dropped; every URI loses its query string, fragment and user info; a path of our own (which
may carry a customer's link token) is cut to its route pattern from the app's URL map, e.g.
``/c/<token>/pay``; ``data:`` and other non-HTTP URIs keep only their scheme. Every text kept
is then scrubbed of digits that could be a card number or an id (``scrub``) and capped in
length.

The endpoint is public, so reading a body is bounded before any parsing: the caller caps its
size, and ``parse`` refuses JSON nested deeper than ``MAX_DEPTH`` by scanning its brackets
first, so ``json.loads`` (which recurses once per level) never sees a body that could exhaust
the stack.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import unquote, urlsplit

from flask import Flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from portal.card_numbers import mask_pans
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
#: Deepest JSON nesting read. Both formats need 3 (a list of objects holding a body object).
MAX_DEPTH = 8
#: Six digits or more in a row: an account, order or card number, a phone number, an id.
_DIGIT_RUN = re.compile(r"\d{6,}")
#: What a scrubbed digit run or card number is replaced with.
DIGITS_REMOVED = "<digits>"


class ReportError(ValueError):
    """The body is not a CSP report in either format; the message is short, fit to answer
    with, and never quotes the body."""


def scrub(text: str) -> str:
    """``text`` with every card number (in any spelling ``portal.card_numbers`` knows) and
    every other run of six or more digits replaced by ``DIGITS_REMOVED``."""
    return _DIGIT_RUN.sub(DIGITS_REMOVED, mask_pans(text, DIGITS_REMOVED))


def _printable(value: str) -> str:
    """Printable ASCII only, after NFKC (so full-width digits are still seen as digits)."""
    return _PRINTABLE.sub("", unicodedata.normalize("NFKC", value)).strip()


def _check_depth(text: str) -> None:
    """Raise ReportError if ``text`` nests arrays or objects deeper than ``MAX_DEPTH``.
    Brackets inside strings do not count (escapes are followed); one pass, no recursion."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ReportError(f"JSON nested deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1


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
    value = _printable(value)[: 4 * URI_LENGTH]
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
    # Matched decoded, as the app routes it, so "%34%31..." cannot smuggle digits past scrub.
    path = _printable(unquote(parts.path or "/"))
    return scrub(origin + mask_path(path))[:URI_LENGTH]


def _text(value, length: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return scrub(_printable(value)[: 4 * length])[:length] or None


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
    Raises ReportError for anything that is not a report in that format, including JSON nested
    deeper than ``MAX_DEPTH``. The caller bounds the size of ``body``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError("the body is not UTF-8") from None
    _check_depth(text)
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ReportError("the body is not JSON") from None
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
