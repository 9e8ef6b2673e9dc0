"""``GET /api/v1/requests/{id}/events``: what happened to a request, as integration events.

Read from the outbound-webhook store (``portal.hooks.events``): each event exactly as a webhook
delivery carries it (docs/webhooks.md), so an integration can poll instead of, or as well as,
receiving webhooks. Events are recorded while the team has an integration: an API key (so
every request a key can read has them) or an enabled webhook endpoint.
"""

from __future__ import annotations

from portal.api import answers
from portal.api.auth import has_scope
from portal.api.blueprint import bp, fails_with, needs_scope
from portal.api.lookups import request_in_team
from portal.api.requests_views import REQUEST, TAGS
from portal.api.spec import REQUEST_ID
from portal.api_keys.scopes import PAYMENTS_READ, REQUESTS_READ
from portal.hooks.catalogue import PAYMENT_FACT_TYPES
from portal.hooks.events import event_body, events_for_request


def without_payment_facts(events: list[dict]) -> list[dict]:
    """``events`` as a key without ``payments:read`` may see them: no payment, refund or
    dispute event, no amount or currency on any other."""
    kept = []
    for event in events:
        if event["type"] in PAYMENT_FACT_TYPES:
            continue
        data = {k: v for k, v in event["data"].items() if k not in ("amount", "currency")}
        kept.append({**event, "data": data})
    return kept


@bp.route(f"{REQUEST}/events", methods=["GET"], parameters=[REQUEST_ID], tags=TAGS)
@needs_scope(REQUESTS_READ)
@bp.response(200, answers.EventList)
@fails_with(404)
def request_events(request_id: str):
    """List a request's events

    The request's integration events, oldest first, each as its webhook carries it. Without
    the `payments:read` scope, payment, refund and dispute events are left out, and so are
    amounts, as everywhere else in the API.

    Needs the `requests:read` scope."""
    capture = request_in_team(request_id)
    events = [event_body(event, capture) for event in events_for_request(capture)]
    if not has_scope(PAYMENTS_READ):
        events = without_payment_facts(events)
    return {"data": events, "has_more": False}
