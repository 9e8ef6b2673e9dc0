"""Inbound webhooks. CSRF-exempt (see ``portal.security.csrf``): each request is signed.

``POST /webhooks/stripe``: the signature is checked on the raw body, as received, before
anything is parsed or stored. Answers (JSON): 400 for a missing, wrong or stale signature;
200 for anything verified, whether applied, ignored, a duplicate or not ours (Stripe must
not retry those); 503 when Stripe itself cannot be asked for the object's current state
(nothing was recorded, so Stripe's retry will be handled afresh).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from portal.extensions import db
from portal.payments import webhooks
from portal.payments.gateway import (
    ProviderRejected,
    ProviderUnavailable,
    StripeGateway,
    WebhookSignatureInvalid,
)

bp = Blueprint("webhooks", __name__)
log = logging.getLogger("postern.webhooks")


@bp.post("/stripe")
def stripe_webhook():
    gateway = StripeGateway.for_app()
    payload = request.get_data(cache=False)
    try:
        event = gateway.parse_webhook(
            payload,
            request.headers.get("Stripe-Signature"),
            current_app.config["STRIPE_WEBHOOK_SECRET"],
        )
    except WebhookSignatureInvalid as refused:
        log.warning("stripe webhook refused", extra={"reason": refused.reason})
        return jsonify(error="invalid signature"), 400
    try:
        outcome = webhooks.handle_event(event, gateway=gateway)
    except (ProviderUnavailable, ProviderRejected) as problem:
        db.session.rollback()
        log.warning(
            "stripe webhook not handled yet",
            extra={"event_id": event.id, "event_type": event.type, "error": str(problem)},
        )
        return jsonify(error="temporarily unavailable"), 503
    return jsonify(received=True, outcome=outcome), 200
