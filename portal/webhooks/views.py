"""Inbound webhooks. CSRF-exempt (see ``portal.security.csrf``): each request is signed.

``POST /webhooks/stripe``: the signature is checked on the raw body, as received, before
anything is parsed or stored; a verified event is queued for the webhook worker
(``flask webhooks work``) in one INSERT, and Stripe is answered at once. Answers (JSON): 400
for a missing, wrong or stale signature; 200 for anything verified, with ``outcome`` "queued",
"ignored" (a type Postern does not act on) or "duplicate" (already received: Stripe must not
retry those). If the database cannot take the event in, the error page's 5xx makes Stripe
deliver it again later: nothing was recorded.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from portal.extensions import limiter
from portal.payments.gateway import StripeGateway, WebhookSignatureInvalid
from portal.stripe_events import dispatch

bp = Blueprint("webhooks", __name__)
log = logging.getLogger("postern.webhooks")


@bp.post("/stripe")
# Not rate-limited: Stripe sends in bursts (a busy hour, a retry of everything after an
# outage), and a 429 would only make it deliver again later, delaying every payment. Each
# request is signed; a bad signature costs one HMAC and no database work.
@limiter.exempt
def stripe_webhook():
    payload = request.get_data(cache=False)
    try:
        event = StripeGateway.for_app().parse_webhook(
            payload,
            request.headers.get("Stripe-Signature"),
            current_app.config["STRIPE_WEBHOOK_SECRET"],
        )
    except WebhookSignatureInvalid as refused:
        log.warning("stripe webhook refused", extra={"reason": refused.reason})
        return jsonify(error="invalid signature"), 400
    return jsonify(received=True, outcome=dispatch.receive(event)), 200
