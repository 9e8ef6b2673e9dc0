"""``/_sandbox/``: the test harness's switches (faults, reset, recorded calls, webhook target).

Not part of Stripe's API: no API key, but only reachable from the loopback interface, so a
sandbox started with ``--allow-remote`` still cannot be reconfigured from elsewhere.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from . import disputes, errors, refunds
from .api import current_sandbox
from .config import is_loopback_host

blueprint = Blueprint("control", __name__, url_prefix="/_sandbox")


@blueprint.before_request
def loopback_only() -> None:
    if not is_loopback_host(request.remote_addr or ""):
        abort(403)


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(_bad_request("expected a JSON object"))
    return body


def _bad_request(message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = 400
    return response


@blueprint.post("/faults")
def arm_fault() -> Response:
    """``{"mode": "timeout"|"500"|"429"|"drop"|"garbled", "count": N, "path_prefix": "/v1/refunds",
    "timeout_seconds": 5}``: the next N matching /v1/ calls fail that way."""
    body = _json_body()
    try:
        fault = current_sandbox().faults.arm(
            str(body.get("mode")),
            int(body.get("count", 1)),
            body.get("path_prefix"),
            float(body["timeout_seconds"]) if body.get("timeout_seconds") else None,
        )
    except (TypeError, ValueError) as error:
        return _bad_request(str(error))
    response = jsonify(
        mode=fault.mode,
        count=fault.remaining,
        path_prefix=fault.path_prefix,
        timeout_seconds=fault.timeout_seconds,
    )
    response.status_code = 201
    return response


@blueprint.get("/faults")
def list_faults() -> Response:
    return jsonify(data=current_sandbox().faults.listing())


@blueprint.delete("/faults")
def clear_faults() -> Response:
    current_sandbox().faults.clear()
    return jsonify(data=[])


@blueprint.post("/reset")
def reset() -> Response:
    current_sandbox().reset()
    return jsonify(reset=True)


@blueprint.get("/requests")
def recorded_requests() -> Response:
    """Recorded /v1/ calls, oldest first; ``?method=POST&path=/v1/payment_intents`` filters
    (``path`` matches exactly, ``path_prefix`` by prefix)."""
    return jsonify(data=filter_requests(current_sandbox().store.requests, request.args))


def filter_requests(recorded: list[dict[str, Any]], filters: Any) -> list[dict[str, Any]]:
    method = filters.get("method")
    path = filters.get("path")
    prefix = filters.get("path_prefix")
    with current_sandbox().store.lock:
        return [
            copy.deepcopy(entry)
            for entry in recorded
            if (not method or entry["method"] == method.upper())
            and (not path or entry["path"] == path)
            and (not prefix or entry["path"].startswith(prefix))
        ]


@blueprint.route("/webhook_endpoint", methods=["GET", "POST"])
def webhook_endpoint() -> Response:
    """POST ``{"url": ..., "secret": "whsec_..."}`` (``url: null`` switches delivery off)."""
    webhooks = current_sandbox().webhooks
    if request.method == "POST":
        body = _json_body()
        try:
            webhooks.configure(body.get("url"), body.get("secret"))
        except ValueError as error:
            return _bad_request(str(error))
    return jsonify(url=webhooks.endpoint_url())


@blueprint.get("/webhook_deliveries")
def webhook_deliveries() -> Response:
    """Every delivery attempt, oldest first, and how many events still wait to be delivered."""
    webhooks = current_sandbox().webhooks
    return jsonify(data=webhooks.deliveries(), pending=webhooks.pending())


@blueprint.post("/refunds/advance")
def advance_refunds() -> Response:
    """Move the refund test cards' refunds on: pending ones succeed, doomed ones fail."""
    return jsonify(data=refunds.advance(current_sandbox()))


@blueprint.post("/disputes/<dispute_id>/close")
def close_dispute(dispute_id: str) -> Response:
    """``outcome=won|lost`` (form or JSON): the card network's decision."""
    return _change_dispute(dispute_id, "outcome", disputes.close)


@blueprint.post("/disputes/<dispute_id>/update")
def update_dispute(dispute_id: str) -> Response:
    """``status=under_review`` (form or JSON): the evidence is with the card network."""
    return _change_dispute(dispute_id, "status", disputes.update)


def _change_dispute(dispute_id: str, field: str, change: Any) -> Response:
    body = request.get_json(silent=True) if request.is_json else request.form
    value = (body or {}).get(field)
    sandbox = current_sandbox()
    with sandbox.store.lock:
        dispute = sandbox.store.disputes.get(dispute_id)
        if dispute is None:
            response = jsonify(error=f"no such dispute: {dispute_id}")
            response.status_code = 404
            return response
        try:
            change(sandbox, dispute, str(value))
        except ValueError as error:
            return _bad_request(str(error))
        except errors.StripeError as error:
            return _bad_request(str(error))
        return jsonify(copy.deepcopy(dispute))
