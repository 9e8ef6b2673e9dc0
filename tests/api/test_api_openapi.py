"""The OpenAPI 3.1 document: generated from the operations' own schemas, it names every
operation the blueprint serves, its scope, its success and every error it can answer (in the
one error schema), the bearer scheme and, on POSTs, the Idempotency-Key header."""

from __future__ import annotations

import re

import pytest

ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":  # the path's own parameters (request_id)
                yield path, method, operation


def test_every_served_operation_is_documented_and_nothing_else(app, spec):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in (
            "api.openapi",
            "api.reference",
        ):
            path = re.sub(r"<request_id>", "{request_id}", rule.rule.removeprefix("/api/v1"))
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, method, _ in _operations(spec)}
    assert documented == served
    assert spec["openapi"] == "3.1.0" and spec["servers"] == [{"url": "/api/v1"}]
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["apiKey"]["description"],
    }


def test_every_operation_documents_its_errors_scope_and_idempotency(spec):
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for status in ("400", "401", "403", "429", "default"):
            assert responses[status]["content"]["application/json"]["schema"] == ERROR_REF, where
        assert "Retry-After" in responses["429"]["headers"], where
        if "{request_id}" in path:
            assert "404" in responses, where
        (scope,) = operation["security"][0]["apiKey"]
        assert f"`{scope}`" in operation["description"], where
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        if method == "post":
            assert headers == ["Idempotency-Key"] and "409" in responses, where
            success = next(r for s, r in responses.items() if s.startswith("2"))
            assert "Idempotent-Replayed" in success["headers"], where
        else:
            assert headers == [], where


def test_bodies_and_answers_come_from_the_validating_schemas(spec):
    schemas = spec["components"]["schemas"]
    create = spec["paths"]["/requests"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateRequestBody"
    }
    body = schemas["CreateRequestBody"]
    assert set(body["required"]) == {"agent", "kind", "reference", "channel"}
    assert body["properties"]["kind"]["enum"] == ["payment", "data", "both"]
    assert body["additionalProperties"] is False
    answer = schemas["CaptureRequestOut"]["properties"]
    assert answer["amount"]["type"] == ["integer", "null"]
    assert "link_url" in answer and "link_nonce_hash" not in answer
    assert schemas["ErrorDetail"]["properties"]["type"]["enum"][0] == "invalid_request_error"
    links = create["responses"]["201"]["links"]
    assert links["get_request"]["parameters"] == {"request_id": "$response.body#/id"}


def test_the_document_is_public_and_cached(client):
    assert (
        client.get("/api/v1/openapi.json").get_json()
        == client.get(
            "/api/v1/openapi.json", headers={"Authorization": "Bearer nonsense"}
        ).get_json()
    )


def test_the_document_is_valid_openapi_3_1(spec):
    """The whole document, its schemas included, against the OpenAPI 3.1 specification (with
    its JSON Schema dialect): what a client generator or a contract tester will read."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    validate(spec, cls=OpenAPIV31SpecValidator)


def test_the_request_id_parameter_admits_both_shapes_of_id(spec):
    for path, operations in spec["paths"].items():
        if "{request_id}" not in path:
            continue
        (parameter,) = operations["parameters"]
        pattern = re.compile(parameter["schema"]["pattern"])
        for typed in ("K7F-3QX-2M9", "k7f3qx2m9", "3l_lzxTZBH"):
            assert pattern.match(typed), (path, typed)
        assert not pattern.match("../etc") and not pattern.match("x" * 21), path
