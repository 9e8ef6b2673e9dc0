"""The Stripe.js stand-in: the ``/v3/`` script, the card iframe, and the 3-D Secure page.

As with real Stripe, the card fields live in an iframe from the sandbox's own origin; the page
that embeds them never sees a card number. The iframe pages carry their own strict CSP and may
be framed only by the configured portal origins (``frame-ancestors``).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
)

from . import intent_flow, money
from .api import current_sandbox

STATIC = Path(__file__).parent / "static"
blueprint = Blueprint("stripejs", __name__, template_folder="templates")
FRAME_ASSETS = {"card-frame.js", "card-frame.css", "three-d-secure.js", "three-d-secure.css"}
#: PaymentIntent status to the ``redirect_status`` Stripe appends to the return_url.
REDIRECT_STATUS = {
    "succeeded": "succeeded",
    "requires_capture": "succeeded",
    "processing": "processing",
}


def _page_headers(response: Response, form_targets: tuple[str, ...] = ()) -> Response:
    ancestors = " ".join(current_sandbox().settings.allowed_frame_ancestors) or "'none'"
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "img-src 'self'",
            " ".join(["form-action 'self'", *form_targets]),
            "base-uri 'none'",
            f"frame-ancestors {ancestors}",
        ]
    )
    # The 3-D Secure URL holds the client secret: never pass it on as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _script(name: str) -> Response:
    response = send_from_directory(STATIC, name, mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/v3/")
@blueprint.get("/v3")
def stripe_js() -> Response:
    """The script a page loads like ``<script src="https://js.stripe.com/v3/">``."""
    return _script("stripe-v3.js")


@blueprint.get("/v3/assets/<name>")
def asset(name: str) -> Response:
    if name not in FRAME_ASSETS:
        abort(404)
    if name.endswith(".js"):
        return _script(name)
    return send_from_directory(STATIC, name, mimetype="text/css", max_age=0)


@blueprint.get("/v3/elements-inner-card.html")
def card_frame() -> Response:
    """The card fields. Configuration comes in the URL fragment, never sent to any server."""
    return _page_headers(Response(render_template("card_frame.html"), mimetype="text/html"))


def _intent_for_challenge(intent_id: str, client_secret: str) -> dict[str, Any]:
    """The intent, if ``client_secret`` is its secret; otherwise a plain 404."""
    intent = current_sandbox().store.payment_intents.get(intent_id)
    if intent is None or not hmac.compare_digest(client_secret, intent["client_secret"]):
        abort(404)
    return intent


@blueprint.get("/3ds/<intent_id>")
def challenge_page(intent_id: str) -> Response:
    """Stripe's 3-D Secure test page: "Complete authentication" or "Fail authentication"."""
    sandbox = current_sandbox()
    with sandbox.store.lock:
        intent = _intent_for_challenge(intent_id, request.args.get("client_secret", ""))
        return_url = intent_flow.private(sandbox, intent).return_url
        html = render_template(
            "three_d_secure.html",
            intent=intent,
            amount=money.format_amount(intent["amount"], intent["currency"]),
            pending=intent["status"] == "requires_action",
        )
    form_targets = (_origin(return_url),) if return_url else ()
    return _page_headers(Response(html, mimetype="text/html"), form_targets)


@blueprint.post("/3ds/<intent_id>")
def challenge_answer(intent_id: str) -> Response:
    """Apply the customer's answer; JSON for the Stripe.js modal, a redirect otherwise."""
    sandbox = current_sandbox()
    with sandbox.store.lock:
        intent = _intent_for_challenge(intent_id, request.form.get("client_secret", ""))
        if intent["status"] == "requires_action":
            intent_flow.finish_authentication(
                sandbox, intent, authenticated=request.form.get("outcome") == "complete"
            )
        status = intent["status"]
        client_secret = intent["client_secret"]
        return_url = intent_flow.private(sandbox, intent).return_url
    if request.accept_mimetypes.best == "application/json":
        return jsonify(status=status)
    if not return_url:  # nowhere to send the customer: say it is done
        with sandbox.store.lock:
            html = render_template("three_d_secure.html", intent=intent, amount="", pending=False)
        return _page_headers(Response(html, mimetype="text/html"))
    return redirect(
        _with_query(
            return_url,
            {
                "payment_intent": intent_id,
                "payment_intent_client_secret": client_secret,
                "redirect_status": REDIRECT_STATUS.get(status, "failed"),
            },
        ),
        code=303,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))
