"""POST /csp-report: browsers' CSP violation reports, stored without anything personal, and the
CSP of every page pointing at it (report-uri and the Reporting API's report-to)."""

from __future__ import annotations

import io
import json
import re
import unicodedata

import pytest
from sqlalchemy import select, text

from tests.support.capture import create_direct, path_of

TOKEN = "WyJBTzFrWlptV0ExIiwiQ0Vpek5QSUt2RUFmVFlMT2lXM3Z1dyJd.awo1bQ.YEgqcbs9Q2HV63fp7yd2AglWINg"
REPORT = {
    "csp-report": {
        "document-uri": f"https://pay.example/c/{TOKEN}/pay?email=jane@example.com",
        "referrer": "https://mail.example/?u=jane",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": "default-src 'none'",
        "disposition": "enforce",
        "blocked-uri": "https://evil.example/skim.js?c=1",
        "status-code": 200,
        "script-sample": "secret sample",
    }
}


def post(client, body, content_type="application/csp-report", **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/csp-report", data=data, content_type=content_type, **kwargs)


def stored(app):
    from portal.extensions import db
    from portal.models.csp_report import CspReport

    with app.app_context():
        rows = db.session.execute(select(CspReport)).scalars().all()
        db.session.expunge_all()
        return rows


def test_a_report_is_stored_without_csrf_and_without_anything_personal(app, client):
    response = post(client, REPORT)
    assert response.status_code == 204
    (row,) = stored(app)
    assert row.document_uri == "https://pay.example/c/<token>/pay"
    assert row.blocked_uri == "https://evil.example/skim.js"
    assert row.effective_directive == "script-src-elem" and row.disposition == "enforce"
    assert row.report_format == "csp-report" and row.received_at is not None
    from portal.extensions import db

    with app.app_context():
        dumped = json.dumps(
            [list(r) for r in db.session.execute(text("SELECT * FROM csp_reports"))], default=str
        )
    for secret in (TOKEN, "jane", "mail.example", "secret sample", "c=1"):
        assert secret not in dumped


def test_a_reporting_api_batch_is_stored(app, client):
    batch = [
        {
            "type": "csp-violation",
            "url": "https://pay.example/login",
            "body": {
                "documentURL": "https://pay.example/login",
                "blockedURL": "inline",
                "effectiveDirective": "script-src-elem",
                "disposition": "enforce",
            },
        }
    ] * 3
    assert post(client, batch, "application/reports+json").status_code == 204
    rows = stored(app)
    assert [(r.report_format, r.blocked_uri) for r in rows] == [("reports+json", "inline")] * 3


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"]
)
def test_other_content_types_are_refused(app, client, content_type):
    response = post(client, REPORT, content_type)
    assert response.status_code == 415
    assert response.get_json() == {
        "error": "send application/csp-report or application/reports+json"
    }
    assert stored(app) == []


def test_garbage_is_refused(app, client):
    assert post(client, b"{not json").status_code == 400
    assert post(client, {"csp-report": "x"}).status_code == 400
    assert stored(app) == []


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"{not json", "application/csp-report", "the body is not JSON"),
        (b"[1, 2", "application/reports+json", "the body is not JSON"),
        (b'{"csp-report": "\xff\xfe"}', "application/csp-report", "the body is not UTF-8"),
        (b'{"csp-report": "x"}', "application/csp-report", 'expected {"csp-report": {...}}'),
        (b'{"type": "csp-violation"}', "application/reports+json", "expected a list of reports"),
    ],
)
def test_a_body_that_is_not_a_report_answers_400_with_a_short_json_error(
    app, client, body, content_type, error
):
    response = post(client, body, content_type)
    assert response.status_code == 400 and response.is_json
    assert response.get_json() == {"error": error}
    assert stored(app) == []


@pytest.mark.parametrize("content_type", ["application/csp-report", "application/reports+json"])
def test_2000_levels_of_nesting_answer_400_not_a_recursion_error(app, client, content_type):
    """About 4 KB of brackets once made json.loads recurse until RecursionError (a 500): the
    depth is now checked by scanning the brackets first, without recursing."""
    opening = '{"csp-report": ' if content_type == "application/csp-report" else ""
    closing = "}" if opening else ""
    body = (opening + "[" * 2000 + "]" * 2000 + closing).encode()
    assert len(body) <= 4100
    response = post(client, body, content_type)
    assert response.status_code == 400
    assert response.get_json() == {"error": "JSON nested deeper than 8 levels"}
    assert stored(app) == []


def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count(app, client):
    deep = {"csp-report": {**REPORT["csp-report"], "extra": [[[[[["x"]]]]]]}}  # 8 levels
    assert post(client, deep).status_code == 204
    deeper = {"csp-report": {**REPORT["csp-report"], "extra": [[[[[[["x"]]]]]]]}}  # 9
    assert post(client, deeper).status_code == 400
    quoted = {"csp-report": {**REPORT["csp-report"], "script-sample": '[{\\"[' * 500}}
    assert post(client, quoted).status_code == 204
    assert len(stored(app)) == 2


def test_a_large_body_is_refused(app, client):
    big = {"csp-report": {**REPORT["csp-report"], "script-sample": "x" * 20_000}}
    response = post(client, big)
    assert response.status_code == 413
    assert response.get_json() == {"error": "a report body may be at most 16384 bytes"}
    assert stored(app) == []


def test_a_large_body_without_a_length_is_refused_after_16_kib(app, client):
    """A chunked body (no Content-Length) is read no further than the limit. The server has
    undone the chunking and says the stream ends by itself, as gunicorn does."""
    big = json.dumps({"csp-report": {"script-sample": "x" * 20_000}}).encode()
    response = client.post(
        "/csp-report",
        input_stream=io.BytesIO(big),
        content_type="application/csp-report",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert stored(app) == []


def test_reports_are_rate_limited_per_address(app_factory):
    app = app_factory(RATELIMIT_CSP_REPORT_PER_IP="3 per minute")
    client = app.test_client()
    statuses = [post(client, REPORT).status_code for _ in range(5)]
    assert statuses == [204, 204, 204, 429, 429]
    assert len(stored(app)) == 3


def test_only_post_is_served(client):
    assert client.get("/csp-report").status_code == 405


def test_every_page_reports_violations_here(app, client, make_staff):
    _, url = create_direct(app, make_staff("agent").id)
    for path in ("/login", path_of(url), "/static/css/app.css", "/no-such-page"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "report-uri /csp-report" in policy and "report-to csp-endpoint" in policy, path
        assert response.headers["Reporting-Endpoints"] == 'csp-endpoint="/csp-report"', path


# -- what is stored: scrubbed, cut to route patterns, capped -------------------------------------

#: The columns a report's words can reach (the other ones hold integers or a fixed format name).
TEXT_COLUMNS = (
    "document_uri",
    "blocked_uri",
    "effective_directive",
    "violated_directive",
    "source_file",
    "disposition",
)
#: Card numbers and ids in the spellings that got past the old filter, one per field.
DIGITS_EVERYWHERE = {
    "document-uri": "https://pay.example/orders/4111.1111.1111.1111/receipt?card=4111111111111111",
    "blocked-uri": "https://evil.example/collect/%34%31%31%31%31%31%31%31%31%31/x.js#5555",
    "violated-directive": "script-src 'self' 4111\u00a01111\u202f1111\u20091111 987654321",
    "effective-directive": "script-src-elem 5555\u200b5555\u200b5555\u200b4444",
    "source-file": "https://cdn.example/\uff14\uff11\uff11\uff11\uff11\uff11\uff11/app.js",
    "disposition": "enforce 12345678",
}
#: Separators a card number or id could be spread across, for the read-back check.
_SPREAD = re.compile(r"[\s./_,%:\-\u200b]")


def _rows_read_back_with_raw_sql(app) -> list[dict]:
    from portal.extensions import db

    with app.app_context():
        columns = ", ".join(TEXT_COLUMNS)  # constants above, not input
        result = db.session.execute(text(f"SELECT {columns} FROM csp_reports"))  # noqa: S608
        return [dict(row._mapping) for row in result]


def _assert_no_digit_runs(rows: list[dict]) -> None:
    for row in rows:
        for column, value in row.items():
            if value is None:
                continue
            squeezed = _SPREAD.sub("", unicodedata.normalize("NFKC", value))
            assert not re.search(r"\d{6,}", squeezed), (column, value)


@pytest.mark.parametrize("fmt", ["csp-report", "reports+json"])
def test_nothing_but_scrubbed_values_reaches_the_columns(app, client, fmt):
    raw = json.loads(json.dumps(DIGITS_EVERYWHERE))  # the escapes above become the characters
    if fmt == "csp-report":
        response = post(client, {"csp-report": raw})
    else:
        names = {
            "document-uri": "documentURL",
            "blocked-uri": "blockedURL",
            "violated-directive": "violatedDirective",
            "effective-directive": "effectiveDirective",
            "source-file": "sourceFile",
            "disposition": "disposition",
        }
        body = {names[name]: value for name, value in raw.items()}
        response = post(
            client, [{"type": "csp-violation", "body": body}], "application/reports+json"
        )
    assert response.status_code == 204
    (row,) = _rows_read_back_with_raw_sql(app)
    _assert_no_digit_runs([row])
    assert row["document_uri"] == "https://pay.example/orders/<digits>/receipt"
    assert row["blocked_uri"] == "https://evil.example/collect/<digits>/x.js"
    assert row["violated_directive"] == "script-src 'self' <digits> <digits>"
    assert row["effective_directive"] == "script-src-elem <digits>"
    assert row["source_file"] == "https://cdn.example/<digits>/app.js"
    assert row["disposition"] == "enforce <digits>"


def test_our_own_paths_are_cut_to_the_url_rule_that_serves_them(app, client):
    """The app's URL map decides, converters included; query strings and fragments go."""
    cases = {
        f"https://pay.example/c/{TOKEN}/pay?x=1#top": "https://pay.example/c/<token>/pay",
        "https://pay.example/dev/outbox/123456/html": (
            "https://pay.example/dev/outbox/<int:message_id>/html"
        ),
        "https://pay.example/static/js/payment.js?v=20261206": (
            "https://pay.example/static/js/payment.js"
        ),
    }
    for uri in cases:
        body = {"csp-report": {"document-uri": uri, "effective-directive": "script-src-elem"}}
        assert post(client, body).status_code == 204
    stored_uris = [row["document_uri"] for row in _rows_read_back_with_raw_sql(app)]
    assert stored_uris == list(cases.values())
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/c/<token>/pay", "/dev/outbox/<int:message_id>/html"} <= rules


def test_every_stored_field_is_capped_in_length(app, client):
    from portal.models.csp_report import URI_LENGTH

    long_path = "/".join(["segment"] * 100)
    body = {
        "csp-report": {
            "document-uri": f"https://pay.example/{long_path}",
            "blocked-uri": f"https://evil.example/{long_path}",
            "source-file": f"https://evil.example/{long_path}",
            "violated-directive": "script-src " + "a " * 300,
            "effective-directive": "x" * 500,
            "disposition": "enforce" * 50,
        }
    }
    assert post(client, body).status_code == 204
    (row,) = _rows_read_back_with_raw_sql(app)
    assert len(row["document_uri"]) == len(row["blocked_uri"]) == URI_LENGTH
    assert len(row["source_file"]) == URI_LENGTH
    assert len(row["violated_directive"]) == 200
    assert len(row["effective_directive"]) == 64 and len(row["disposition"]) == 16
