"""The sandbox's Flask application: Stripe's API under ``/v1/``, Stripe.js under ``/v3/``,
the 3-D Secure page under ``/3ds/`` and the test harness's switches under ``/_sandbox/``.

Every response carries a ``Request-Id``. For ``/v1/`` calls the app also applies injected
faults, authenticates the API key, answers CORS as api.stripe.com does (Stripe.js calls the
API from the customer's browser) and records the call with card data masked.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import (
    api,
    charges,
    control,
    disputes,
    errors,
    events,
    payment_intents,
    payment_methods,
    refunds,
    stripejs,
)
from .api import EXTENSION, Sandbox, authenticate, current_sandbox
from .config import SandboxSettings
from .faults import ENVIRON_KEY, FaultMiddleware
from .responses import error_response
from .state import new_id

log = logging.getLogger("stripe_sandbox")
#: Modules whose views register themselves on the API blueprint when imported.
API_MODULES = (charges, disputes, events, payment_intents, payment_methods, refunds)
MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: SandboxSettings | None = None) -> Flask:
    """A ready sandbox app; its state lives in ``app.extensions["stripe_sandbox"]``."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    sandbox = Sandbox(settings or SandboxSettings())
    app.extensions[EXTENSION] = sandbox
    app.register_blueprint(api.blueprint)
    app.register_blueprint(stripejs.blueprint)
    app.register_blueprint(control.blueprint)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(errors.StripeError, error_response)
    app.register_error_handler(404, _unrecognized_url)
    app.register_error_handler(405, _unrecognized_url)
    app.register_error_handler(500, _internal_error)
    app.wsgi_app = FaultMiddleware(app.wsgi_app, sandbox.faults)  # type: ignore[method-assign]
    return app


def _is_api_call() -> bool:
    return request.path.startswith("/v1/")


def _start_request() -> Response | None:
    g.request_id = new_id("req_", 14)
    if not _is_api_call():
        return None
    if request.method == "OPTIONS":
        return Response(status=204)  # CORS preflight: headers are added below
    sandbox = current_sandbox()
    fault = sandbox.faults.take(request.path)
    if fault is not None:
        g.fault = fault.mode
        if fault.mode == "500":
            raise errors.api_error()
        if fault.mode == "429":
            raise errors.rate_limited()
        if fault.mode == "garbled":
            return jsonify(unexpected="not a Stripe object")
        request.environ[ENVIRON_KEY] = fault  # timeout/drop: acted on after the answer
    authenticate(sandbox.settings)
    return None


def _finish_request(response: Response) -> Response:
    response.headers["Request-Id"] = g.get("request_id", "")
    if not _is_api_call():
        return response
    sandbox = current_sandbox()
    response.headers["Stripe-Version"] = request.headers.get(
        "Stripe-Version", sandbox.settings.api_version
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = (
        "Authorization, Content-Type, Idempotency-Key, Stripe-Version"
    )
    response.headers["Access-Control-Expose-Headers"] = "Request-Id, Idempotent-Replayed"
    response.headers["Access-Control-Max-Age"] = "300"
    if request.headers.get("Idempotency-Key"):
        response.headers["Idempotency-Key"] = request.headers["Idempotency-Key"]
    if request.method != "OPTIONS":
        _record(sandbox, response)
    return response


def _record(sandbox: Sandbox, response: Response) -> None:
    pairs = [*request.args.items(multi=True), *request.form.items(multi=True)]
    entry: dict[str, Any] = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path,
        "idempotency_key": request.headers.get("Idempotency-Key"),
        "params": {key: masked(key, value) for key, value in pairs if key != "key"},
        "status": response.status_code,
        "key": g.get("key_kind"),
        "replayed": bool(g.get("idempotent_replay")),
        "fault": g.get("fault"),
        "created": int(time.time()),
    }
    with sandbox.store.lock:
        sandbox.store.requests.append(entry)


def masked(key: str, value: str) -> str:
    """Card numbers keep their last four digits, CVCs nothing, as Stripe's request logs do."""
    field = key.rsplit("[", 1)[-1].rstrip("]")
    if field == "number":
        return "*" * max(len(value) - 4, 0) + value[-4:]
    if field == "cvc":
        return "***"
    return value


def _unrecognized_url(error: HTTPException) -> Response | HTTPException:
    if _is_api_call():
        return error_response(errors.unrecognized_url(request.method, request.path))
    return error


def _internal_error(error: HTTPException) -> Response | HTTPException:
    # Paths only: request bodies may hold card data and never reach the log.
    log.error(
        "unhandled error on %s %s",
        request.method,
        request.path,
        exc_info=getattr(error, "original_exception", None),
    )
    if _is_api_call():
        return error_response(errors.api_error())
    return error
