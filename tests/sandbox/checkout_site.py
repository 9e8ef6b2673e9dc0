"""A minimal merchant checkout page for the browser tests, served with the portal's strict CSP.

Each GET / creates a PaymentIntent server-side through the SDK (as the portal will) and renders
a page that loads the sandbox's Stripe.js, mounts an Element and confirms on submit.
"""

from __future__ import annotations

import html
import secrets
import threading
from typing import Any

import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CHECKOUT_JS = """
(function () {
  'use strict';
  var form = document.getElementById('payment-form');
  var message = document.getElementById('message');
  var data = form.dataset;
  var stripe = Stripe(data.publishableKey);
  var elements = stripe.elements({ clientSecret: data.clientSecret,
    appearance: { theme: 'stripe', variables: { colorPrimary: '#0a7d5a' } } });
  var element = elements.create(data.elementType);
  element.on('ready', function (event) { data.ready = event.elementType; });
  element.on('change', function (event) {
    data.complete = String(event.complete);
    data.errorCode = event.error ? event.error.code : '';
  });
  element.mount('#payment-element');

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var button = document.getElementById('submit');
    button.disabled = true;
    var confirmation = data.elementType === 'card'
      ? stripe.confirmCardPayment(data.clientSecret, { payment_method: { card: element } })
      : stripe.confirmPayment({ elements: elements, redirect: data.redirect,
          confirmParams: { return_url: data.returnUrl } });
    confirmation.then(function (result) {
      button.disabled = false;
      if (result.error) {
        message.dataset.code = result.error.code || '';
        message.dataset.declineCode = result.error.decline_code || '';
        message.dataset.outcome = 'error';
        message.textContent = result.error.message;
      } else {
        message.dataset.outcome = result.paymentIntent.status;
        message.textContent = 'Payment ' + result.paymentIntent.status;
      }
    });
  });
}());
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pay by link</title>
<script src="{js_url}"></script>
<script src="/checkout.js" nonce="{nonce}" defer></script>
</head>
<body>
<main>
<h1>Pay £25.00</h1>
<form id="payment-form" data-client-secret="{client_secret}"
      data-publishable-key="{publishable_key}" data-element-type="{element_type}"
      data-redirect="{redirect}" data-return-url="{return_url}">
  <div id="payment-element"></div>
  <button id="submit" type="submit">Pay £25.00</button>
  <p id="message" role="status"></p>
</form>
</main>
</body>
</html>
"""


class CheckoutSite:
    """The merchant: ``/`` (checkout), ``/checkout.js``, ``/return`` (after a redirect)."""

    def __init__(self, sandbox: Any, client: stripe.StripeClient) -> None:
        self.sandbox = sandbox
        self.client = client
        self.intents: list[stripe.PaymentIntent] = []
        self.seen: list[tuple[str, bytes]] = []  # every request the merchant received
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def csp(self, nonce: str) -> str:
        origin = self.sandbox.url
        return (
            f"default-src 'none'; script-src 'self' 'nonce-{nonce}' {origin}; "
            f"frame-src {origin}; style-src 'self'; connect-src 'self' {origin}; "
            "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        self.seen.append((request.full_path, request.get_data()))
        nonce = secrets.token_urlsafe(16)
        if request.path == "/":
            response = self.checkout(request, nonce)
        elif request.path == "/checkout.js":
            response = Response(CHECKOUT_JS, mimetype="text/javascript")
        elif request.path == "/return":
            response = Response(
                "<!doctype html><title>Returned</title><p>Thank you</p>", mimetype="text/html"
            )
        else:
            response = Response(status=204 if request.path == "/favicon.ico" else 404)
        response.headers["Content-Security-Policy"] = self.csp(nonce)
        return response(environ, start_response)

    def checkout(self, request: Request, nonce: str) -> Response:
        # The Card Element takes cards only, so its intent says so (Stripe would otherwise want
        # a return_url for redirecting methods); the Payment Element's lets them all in.
        methods = (
            {"payment_method_types": ["card"]}
            if request.args.get("element") == "card"
            else {"automatic_payment_methods": {"enabled": True}}
        )
        intent = self.client.v1.payment_intents.create(
            params={"amount": 2500, "currency": "gbp", "metadata": {"link": "test"}, **methods}
        )
        self.intents.append(intent)
        page = PAGE.format(
            js_url=html.escape(self.sandbox.js_url),
            nonce=nonce,
            client_secret=html.escape(intent.client_secret),
            publishable_key=html.escape(self.sandbox.publishable_key),
            element_type=html.escape(request.args.get("element", "payment")),
            redirect=html.escape(request.args.get("redirect", "if_required")),
            return_url=html.escape(f"{self.url}/return"),
        )
        return Response(page, mimetype="text/html")
