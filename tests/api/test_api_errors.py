"""Every failure under /api/v1 in one JSON shape: bad JSON, validation, 401, 403, 404, 405,
429 (with Retry-After), and a staff session or a browser's Accept changes nothing."""

from __future__ import annotations

import pytest

from tests.support.api import api_call, bearer, make_api_key, payment_body
from tests.support.web import login

SHAPE = {"type", "code", "message", "param"}


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == SHAPE
    return error


def test_no_key_a_malformed_one_an_unknown_one_and_a_revoked_one_answer_401(app, client, key):
    from portal import audit
    from portal.api_keys import service
    from portal.extensions import db

    assert _error(api_call(client, "GET", "/requests", None), 401)["code"] == "missing_api_key"
    for bad in ("nonsense", key[:-1] + ("A" if key[-1] != "A" else "B"), "Basic " + key):
        headers = {"Authorization": bad if bad.startswith("Basic") else f"Bearer {bad}"}
        response = client.get("/api/v1/requests", headers=headers)
        assert _error(response, 401)["type"] == "authentication_error"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with app.app_context():
        service.revoke(service.find_by_prefix(key[:18]), revoked_by=None, actor=audit.CLI)
        db.session.commit()
    assert _error(api_call(client, "GET", "/requests", key), 401)["code"] == "invalid_api_key"


def test_a_refused_key_is_logged_without_its_secret_and_not_audited(app, client, key, caplog):
    from tests.support.capture import audit_actions

    wrong = key[:-5] + "zzzzz"
    before = audit_actions(app)
    api_call(client, "GET", "/requests", wrong)
    refused = [r for r in caplog.records if r.getMessage() == "api key refused"]
    assert refused and refused[0].reason == "unknown"
    assert refused[0].api_key_lookup == key[10:18]
    assert all(key[19:] not in r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert audit_actions(app) == before


def test_a_key_without_the_scope_gets_403(app, client, agent):
    reader = make_api_key(app, scopes=["requests:read"])
    response = api_call(client, "POST", "/requests", reader, payment_body(agent.username))
    error = _error(response, 403)
    assert error["type"] == "permission_error" and "requests:write" in error["message"]


def test_bad_json_not_an_object_and_unknown_routes(client, key):
    bad = client.post(
        "/api/v1/requests",
        data="{not json",
        content_type="application/json",
        headers=bearer(key),
    )
    assert _error(bad, 400)["code"] == "body_invalid"
    listed = api_call(client, "POST", "/requests", key, [1, 2])
    assert _error(listed, 400)["code"] == "body_invalid"
    assert _error(api_call(client, "GET", "/nowhere", key), 404)["type"] == "not_found"
    not_allowed = api_call(client, "DELETE", "/requests", key)
    assert _error(not_allowed, 405)["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= set(not_allowed.headers["Allow"].split(", "))


def test_a_browser_and_a_staff_session_still_get_the_api_shape(app, client, make_staff):
    login(client, make_staff("admin"))
    response = client.get("/api/v1/requests", headers={"Accept": "text/html"})
    assert _error(response, 401)["type"] == "authentication_error"
    page = client.get("/api/v1/nowhere", headers={"Accept": "text/html"})
    assert _error(page, 404)["code"] == "not_found"
    # The rest of the site keeps its pages.
    assert client.get("/nowhere", headers={"Accept": "text/html"}).mimetype == "text/html"


@pytest.fixture
def limited_app(app_factory):
    return app_factory(API_RATE_LIMIT="3 per minute")


def test_over_the_rate_a_key_gets_429_with_retry_after(limited_app, make_staff):
    client = limited_app.test_client()
    key = make_api_key(limited_app, scopes=["requests:read"])
    other = make_api_key(limited_app, scopes=["requests:read"], name="Dialler")
    for _ in range(3):
        assert api_call(client, "GET", "/requests", key).status_code == 200
    response = api_call(client, "GET", "/requests", key)
    error = _error(response, 429)
    assert error["type"] == "rate_limit_error"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Counted per key: another integration is not held back.
    assert api_call(client, "GET", "/requests", other).status_code == 200


def test_the_spec_and_reference_page_need_no_key(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.get_json()["openapi"] == "3.1.0"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"].replace("  ", " ")


def test_too_many_wrong_keys_from_one_address_are_refused_outright(app_factory, make_staff):
    """Proves: an address that sent too many refused keys gets 429 for every further wrong or
    missing key, while a valid key from the same address still works (a forgotten job with a
    revoked key must not lock out the integration beside it)."""
    app = app_factory(API_AUTH_FAILURES_PER_IP="2 per minute")
    client = app.test_client()
    good = make_api_key(app, scopes=["requests:read"])
    wrong = good[:-3] + "zzz"
    for _ in range(2):
        assert api_call(client, "GET", "/requests", wrong).status_code == 401
    refused = api_call(client, "GET", "/requests", wrong)
    assert _error(refused, 429)["code"] == "too_many_failed_authentications"
    assert refused.headers["Retry-After"] == "60"
    assert _error(api_call(client, "GET", "/requests", None), 429)
    assert api_call(client, "GET", "/requests", good).status_code == 200


def test_a_database_that_went_away_answers_503_in_the_shape(app, app_factory, tmp_path):
    """(``app`` first: the fixture empties the tables of the first app it built.)"""
    app = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/nowhere.db")
    response = api_call(app.test_client(), "GET", "/requests", "pstn_live_abcdefgh_" + "a" * 43)
    error = _error(response, 503)
    assert error["type"] == "api_error" and error["code"] == "service_unavailable"


def test_every_status_has_words_in_the_shape():
    from portal import create_app
    from portal.api.errors import BY_STATUS, render_status

    with create_app("testing").test_request_context("/api/v1/requests"):
        for status in (*BY_STATUS, 418):
            body = render_status(status).get_json()["error"]
            assert set(body) == SHAPE and body["message"]
