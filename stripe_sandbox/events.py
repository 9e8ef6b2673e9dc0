"""Events: created as objects change, listed under ``/v1/events``, handed to the webhook sender."""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

from flask import g, has_request_context, request

from . import errors
from .api import Sandbox, api_route, current_sandbox, now, params
from .fixtures import shaped
from .responses import list_object
from .state import new_id


def emit(sandbox: Sandbox, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Record an event with a snapshot of ``obj`` and queue it for webhook delivery.

    Call with the store locked, right after the change, so events keep the order of changes.
    ``request`` names the API call that caused it; changes made by the customer on the
    3-D Secure page have none, as with Stripe.
    """
    caused_by_api = has_request_context() and request.path.startswith("/v1/")
    event = shaped(
        "event",
        {
            "api_version": sandbox.settings.api_version,
            "created": now(),
            "data": {"object": copy.deepcopy(obj)},
            "id": new_id("evt_"),
            "livemode": False,
            "object": "event",
            "pending_webhooks": 1 if sandbox.webhooks.enabled else 0,
            "request": {
                "id": g.get("request_id") if caused_by_api else None,
                "idempotency_key": request.headers.get("Idempotency-Key")
                if caused_by_api
                else None,
            },
            "type": event_type,
        },
    )
    sandbox.store.events[event["id"]] = event
    if event["pending_webhooks"]:
        sandbox.webhooks.enqueue(event["id"])
    return event


@api_route("/v1/events", methods=["GET"])
def list_events() -> dict[str, Any]:
    """Newest first; ``type`` may use a ``*`` wildcard (``payment_intent.*``), ``types[]`` too."""
    query = params()
    query.reject_unknown({"type", "types", "limit", "starting_after", "ending_before"})
    wanted = [query.string("type")] if "type" in query else query.string_list("types")
    events = list(reversed(current_sandbox().store.events.values()))
    if wanted:
        events = [
            event
            for event in events
            if any(fnmatch.fnmatchcase(event["type"], pattern) for pattern in wanted)
        ]
    return list_object(current_sandbox().store, "/v1/events", events, query)


@api_route("/v1/events/<event_id>", methods=["GET"])
def retrieve_event(event_id: str) -> dict[str, Any]:
    params().reject_unknown(())
    event = current_sandbox().store.events.get(event_id)
    if event is None:
        raise errors.resource_missing("event", event_id)
    return copy.deepcopy(event)
