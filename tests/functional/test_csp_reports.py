"""POST /csp-report: browsers' CSP violation reports, stored without anything personal, and the
CSP of every page pointing at it (report-uri and the Reporting API's report-to)."""

from __future__ import annotations

import json

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
    assert post(client, REPORT, content_type).status_code == 415
    assert stored(app) == []


def test_garbage_is_refused(app, client):
    assert post(client, b"{not json").status_code == 400
    assert post(client, {"csp-report": "x"}).status_code == 400
    assert stored(app) == []


def test_a_large_body_is_refused(app, client):
    big = {"csp-report": {**REPORT["csp-report"], "script-sample": "x" * 20_000}}
    assert post(client, big).status_code == 413
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
