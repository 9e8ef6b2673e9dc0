"""NUL characters in form fields or query strings get a plain 400, on every database.

PostgreSQL refuses NUL in text; found by the property-based login test as a 500.
"""

from __future__ import annotations

from tests.support.web import csrf_from


def test_a_nul_in_the_login_form_is_a_plain_400(client):
    """Proves: a NUL character in a form field is refused with a plain 400 naming the problem, never
    a 500 from the database."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "ann\x00", "password": "x" * 12, "csrf_token": token}
    )
    assert response.status_code == 400
    assert "character we cannot accept" in response.get_data(as_text=True)


def test_a_nul_in_a_query_string_is_a_plain_400(client):
    """Proves: a NUL character in the query string is refused with a 400."""
    response = client.get("/login?next=/agent/%00")
    assert response.status_code == 400


def test_ordinary_input_is_untouched(client):
    """Proves: the NUL guard does not refuse ordinary input."""
    assert client.get("/login?next=/agent/").status_code == 200


def test_a_nul_in_an_api_query_is_refused_in_the_apis_own_error_shape(app):
    """Proves: under /api/v1 the NUL refusal answers in the API's one documented error shape
    (found by the API contract test: it was the console's shape, which the document forbids)."""
    from tests.support.api import bearer, make_api_key

    key = make_api_key(app)
    response = app.test_client().get("/api/v1/requests?reference=A%00B", headers=bearer(key))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "reference: contains a NUL character" in error["message"]
