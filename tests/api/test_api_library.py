"""flask-smorest is confined to ``/api/v1``: it writes the document and validates calls, but
handles no error of the rest of the site and serves no page of its own (its UIs load scripts
from a CDN)."""

from __future__ import annotations

from werkzeug.exceptions import HTTPException


def test_the_library_registers_no_app_wide_error_handler(app):
    from flask_smorest import Api

    for handlers in app.error_handler_spec[None].values():
        for handler in handlers.values():
            assert not isinstance(getattr(handler, "__self__", None), Api), handler
            assert handler.__module__.startswith("portal."), handler
    assert app.error_handler_spec[None][None][HTTPException].__module__ == "portal.errors"


def test_the_library_serves_no_documentation_pages(app):
    assert not [rule.rule for rule in app.url_map.iter_rules() if "api-docs" in rule.endpoint]
    for setting in ("OPENAPI_URL_PREFIX", "OPENAPI_SWAGGER_UI_PATH", "OPENAPI_REDOC_PATH"):
        assert app.config.get(setting) is None, setting


def test_a_page_outside_the_api_keeps_its_html_error_page(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_a_bad_body_answers_400_in_the_error_shape_naming_the_field(client, key, agent):
    from tests.support.api import api_call, payment_body

    body = payment_body(agent.username, amount="twelve")
    response = api_call(client, "POST", "/requests", key, body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "amount"
    unknown = api_call(client, "GET", "/requests?colour=red", key)
    assert unknown.status_code == 400 and unknown.get_json()["error"]["param"] == "colour"
