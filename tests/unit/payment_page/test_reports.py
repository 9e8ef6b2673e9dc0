"""Reading CSP violation reports: both formats, and nothing personal kept."""

from __future__ import annotations

import json

import pytest

from portal.payment_page import reports

TOKEN = "WyJBTzFrWlptV0ExIiwiQ0Vpek5QSUt2RUFmVFlMT2lXM3Z1dyJd.awo1bQ.YEgqcbs9Q2HV63fp7yd2AglWINg"


@pytest.fixture
def mask(app):
    return reports.path_masker(app)


def csp_report(**fields) -> bytes:
    body = {
        "document-uri": f"https://pay.example/c/{TOKEN}/pay?utm_source=sms#top",
        "referrer": "https://mail.example/inbox?user=jane@example.com",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": "default-src 'none'; script-src 'self' 'nonce-abc'",
        "disposition": "enforce",
        "blocked-uri": "https://evil.example/skim.js?card=4242424242424242",
        "line-number": 12,
        "column-number": "7",
        "source-file": f"https://pay.example/c/{TOKEN}/pay",
        "status-code": 200,
        "script-sample": "jane@example.com",
        **fields,
    }
    return json.dumps({"csp-report": body}).encode()


def test_a_report_uri_report_is_kept_without_anything_personal(mask):
    (violation,) = reports.parse(csp_report(), reports.CSP_REPORT, mask)
    assert violation.document_uri == "https://pay.example/c/<token>/pay"
    assert violation.source_file == "https://pay.example/c/<token>/pay"
    assert violation.blocked_uri == "https://evil.example/skim.js"
    assert violation.effective_directive == "script-src-elem"
    assert (violation.line_number, violation.column_number, violation.status_code) == (12, 7, 200)
    kept = json.dumps(vars(violation))
    for secret in (TOKEN, "utm_source", "jane@example.com", "4242", "nonce-abc", "mail.example"):
        assert secret not in kept


def test_a_reporting_api_batch_keeps_only_csp_violations(mask):
    batch = [
        {
            "type": "csp-violation",
            "age": 3,
            "url": f"https://pay.example/c/{TOKEN}",
            "user_agent": "Mozilla/5.0",
            "body": {
                "documentURL": f"https://pay.example/c/{TOKEN}/start",
                "blockedURL": "inline",
                "effectiveDirective": "script-src-elem",
                "disposition": "enforce",
                "lineNumber": 1,
                "sample": "alert(document.cookie)",
            },
        },
        {"type": "deprecation", "body": {"id": "x"}},
        "not a report",
    ]
    (violation,) = reports.parse(json.dumps(batch).encode(), reports.REPORTS_JSON, mask)
    # A POST-only route is still recognised, and its token masked.
    assert violation.document_uri == "https://pay.example/c/<token>/start"
    assert violation.blocked_uri == "inline"
    assert violation.report_format == "reports+json"
    assert "document.cookie" not in json.dumps(vars(violation))


def test_a_batch_is_capped(mask):
    batch = [{"type": "csp-violation", "body": {"blockedURL": "eval"}}] * 100
    parsed = reports.parse(json.dumps(batch).encode(), reports.REPORTS_JSON, mask)
    assert len(parsed) == reports.MAX_REPORTS_PER_BODY


@pytest.mark.parametrize(
    ("uri", "kept"),
    [
        ("data:text/javascript,alert(1)", "data"),
        ("blob:https://pay.example/1234", "blob"),
        ("eval", "eval"),
        ("https://user:pw@evil.example:8443/x.js?q=1", "https://evil.example:8443/x.js"),
        (
            "https://pay.example/static/js/customer/pay.js?v=2",
            "https://pay.example/static/js/customer/pay.js",
        ),
        (
            "https://pay.example/agent/requests/AbCdEfGhIj/revoke",
            "https://pay.example/agent/requests/<public_id>/revoke",
        ),
        (f"https://pay.example/c/{TOKEN}/nowhere", "https://pay.example/c/<redacted>/nowhere"),
        ("https://pay.example/c/short/pay", "https://pay.example/c/<token>/pay"),
        ("", None),
        (42, None),
    ],
)
def test_uris_lose_queries_credentials_and_secrets(mask, uri, kept):
    assert reports.clean_uri(uri, mask) == kept


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b"not json", reports.CSP_REPORT),
        (b"\xff\xfe", reports.CSP_REPORT),
        (b'{"something": 1}', reports.CSP_REPORT),
        (b'["csp-report"]', reports.CSP_REPORT),
        (b'{"csp-report": {}}', reports.REPORTS_JSON),
    ],
)
def test_anything_else_is_refused(mask, body, fmt):
    with pytest.raises(reports.ReportError):
        reports.parse(body, fmt, mask)


def test_numbers_out_of_range_are_dropped(mask):
    body = csp_report(**{"line-number": -1, "column-number": 2**40, "status-code": True})
    (violation,) = reports.parse(body, reports.CSP_REPORT, mask)
    assert (violation.line_number, violation.column_number, violation.status_code) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("4111 1111 1111 1111", "<digits>"),
        ("4111.1111.1111.1111 and 5555-5555-5555-4444", "<digits> and <digits>"),
        ("order 123456 line 12345", "order <digits> line 12345"),
        ("/orders/98765432101/items", "/orders/<digits>/items"),
        ("script-src-elem", "script-src-elem"),
        ("https://pay.example:8443/c/<token>", "https://pay.example:8443/c/<token>"),
    ],
)
def test_scrub_removes_card_numbers_and_long_digit_runs(text, scrubbed):
    assert reports.scrub(text) == scrubbed


def test_nesting_is_checked_before_parsing_without_recursion(mask):
    too_deep = b'{"csp-report": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(reports.ReportError, match="nested deeper than"):
        reports.parse(too_deep, reports.CSP_REPORT, mask)
    # Brackets inside strings, escaped quotes included, are text, not nesting.
    quoted = json.dumps({"csp-report": {"script-sample": '\\"[[[[[[[[[[[[' * 10}}).encode()
    (violation,) = reports.parse(quoted, reports.CSP_REPORT, mask)
    assert violation.report_format == reports.CSP_REPORT
