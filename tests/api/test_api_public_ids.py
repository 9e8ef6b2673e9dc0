"""Request ids in ``/api/v1`` paths are read as people type them: a new-shape id in any case,
with or without its hyphens, reaches the same request; an id issued before the new shape works
exactly as stored; the document's pattern admits every one of them."""

from __future__ import annotations

import re

from tests.support.api import api_call, payment_body
from tests.support.capture import create_direct, update_request


def _pattern(client) -> re.Pattern:
    spec = client.get("/api/v1/openapi.json").get_json()
    (parameter,) = spec["paths"]["/requests/{request_id}"]["parameters"]
    assert parameter["name"] == "request_id" and parameter["in"] == "path"
    return re.compile(parameter["schema"]["pattern"])


def test_a_new_request_is_read_back_by_its_id_in_lower_case_without_hyphens(client, key, agent):
    created = api_call(client, "POST", "/requests", key, payment_body(agent.username))
    assert created.status_code == 201, created.get_json()
    public_id = created.get_json()["id"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{3}(-[0-9A-HJKMNP-TV-Z]{3}){2}", public_id)
    typed = public_id.replace("-", "").lower()
    assert _pattern(client).match(typed) and _pattern(client).match(public_id)
    response = api_call(client, "GET", f"/requests/{typed}", key)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == public_id
    events = api_call(client, "GET", f"/requests/{typed}/events", key)
    assert events.status_code == 200, events.get_json()


def test_an_old_shape_id_works_exactly_as_stored_and_only_so(app, client, key, agent):
    public_id, _ = create_direct(app, agent.id)
    update_request(app, public_id, public_id="3l_lzxTZBH")
    assert _pattern(client).match("3l_lzxTZBH")
    response = api_call(client, "GET", "/requests/3l_lzxTZBH", key)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == "3l_lzxTZBH"
    folded = api_call(client, "GET", "/requests/3L_LZXTZBH", key)
    assert folded.status_code == 404
    assert folded.get_json()["error"]["code"] == "resource_missing"


def test_an_id_that_cannot_be_one_answers_404_in_the_error_shape(client, key):
    for typed in ("nothing-like-an-id-at-all", "K7F-3QX-2M", "%20"):
        response = api_call(client, "GET", f"/requests/{typed}", key)
        assert response.status_code == 404, typed
        assert response.get_json()["error"]["type"] == "not_found"
