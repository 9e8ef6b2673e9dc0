"""How answers leave the API: JSON bodies, Stripe list objects, and ``expand[]``."""

from __future__ import annotations

import copy
import json
from typing import Any

from flask import Response, g

from . import errors
from .params import Params
from .state import Store

#: Fields that hold another object's id and that ``expand[]`` may replace with the object.
EXPANDABLE = {
    "payment_intent": {"latest_charge", "payment_method"},
    "charge": {"payment_intent"},
    "refund": {"charge", "payment_intent"},
    "dispute": {"charge", "payment_intent"},
}


def json_response(payload: Any, status: int = 200) -> Response:
    # Stripe pretty-prints its JSON with two-space indentation.
    return Response(
        json.dumps(payload, indent=2) + "\n", status=status, mimetype="application/json"
    )


def error_response(error: errors.StripeError) -> Response:
    return json_response(error.body(g.get("request_id")), error.status)


def expanded(store: Store, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A deep copy of ``obj`` with each dotted path in ``paths`` expanded, as Stripe does."""
    result = copy.deepcopy(obj)
    for path in paths:
        _expand_path(store, result, path.split("."), path)
    return result


def _expand_path(store: Store, obj: dict[str, Any], parts: list[str], path: str) -> None:
    head, rest = parts[0], parts[1:]
    if head not in EXPANDABLE.get(obj.get("object", ""), set()):
        raise errors.invalid_request(
            f"This property cannot be expanded ({path}).", param="expand", saved=False
        )
    value = obj.get(head)
    if isinstance(value, str):
        found = store.find(value)
        if found is None:
            return
        value = obj[head] = copy.deepcopy(found)
    if rest and isinstance(value, dict):
        _expand_path(store, value, rest, path)


def list_object(
    store: Store, url: str, newest_first: list[dict[str, Any]], params: Params
) -> dict[str, Any]:
    """One page of a Stripe list (``limit``, ``starting_after``, ``ending_before``)."""
    limit = params.integer("limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise errors.parameter_invalid(
            "limit", "Invalid limit: must be between 1 and 100", code="parameter_invalid_integer"
        )
    ids = [item["id"] for item in newest_first]
    start, stop = 0, len(ids)
    after = params.string("starting_after")
    before = params.string("ending_before")
    if after is not None:
        start = _position(ids, after, "starting_after") + 1
    if before is not None:
        stop = _position(ids, before, "ending_before")
        start = max(start, stop - limit)
    page = newest_first[start:stop][:limit]
    has_more = start + len(page) < stop if before is None else start > 0
    expand = [path.removeprefix("data.") for path in params.expand()]
    return {
        "object": "list",
        "data": [expanded(store, item, expand) for item in page],
        "has_more": has_more,
        "url": url,
    }


def _position(ids: list[str], object_id: str, param: str) -> int:
    try:
        return ids.index(object_id)
    except ValueError:
        raise errors.invalid_request(
            f"No such object: '{object_id}'", param=param, code="resource_missing", status=404
        ) from None


def matching(
    query: Params, objects: list[dict[str, Any]], fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """A list read's filters: Stripe's ``created`` range, then each of ``fields``
    (``payment_intent``, ``charge``) the query names, compared with the object's own."""
    found = created_between(query, objects)
    for field in fields:
        wanted = query.string(field)
        if wanted is not None:
            found = [obj for obj in found if obj[field] == wanted]
    return found


def created_between(query: Params, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stripe's ``created`` filter: a timestamp, or ``created[gt|gte|lt|lte]``."""
    if "created" not in query:
        return objects
    if isinstance(query.data["created"], str):
        exact = query.integer("created")
        return [obj for obj in objects if obj["created"] == exact]
    bounds = query.nested("created", {"gt", "gte", "lt", "lte"})
    tests = {
        "gt": lambda value, bound: value > bound,
        "gte": lambda value, bound: value >= bound,
        "lt": lambda value, bound: value < bound,
        "lte": lambda value, bound: value <= bound,
    }
    for name, test in tests.items():
        bound = bounds.integer(name)
        if bound is not None:
            objects = [obj for obj in objects if test(obj["created"], bound)]
    return objects
