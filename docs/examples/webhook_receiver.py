"""A minimal receiver for Postern's outbound webhooks: checks each delivery's signature with
the Standard Webhooks library and prints the event.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python docs/examples/webhook_receiver.py --port 8123

Register ``http://127.0.0.1:8123/`` as an endpoint in development (list ``127.0.0.1:8123`` in
``POSTERN_HOOKS_ALLOWED_HOSTS``); in production the endpoint must be https on a public address.
A real receiver should also remember the ``webhook-id`` values it has handled and ignore a
repeat: Postern delivers at least once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

MAX_BODY = 1024 * 1024


def make_handler(webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", 0))
            if length > MAX_BODY:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)  # the raw bytes: the signature covers exactly these
            try:
                event = webhook.verify(body, dict(self.headers))
            except WebhookVerificationError:
                print("refused: bad or missing signature", flush=True)
                self.send_response(400)
                self.end_headers()
                return
            request = event["data"].get("request", {})
            print(
                json.dumps(
                    {"id": event["id"], "type": event["type"], "request": request.get("id")}
                ),
                flush=True,
            )
            self.send_response(204)  # answer fast; do slow work after (or on a queue)
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    options = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if not secret.startswith("whsec_"):
        print("Set WEBHOOK_SECRET to the endpoint's signing secret (whsec_...).", file=sys.stderr)
        return 2
    server = HTTPServer((options.host, options.port), make_handler(Webhook(secret)))
    print(f"listening on http://{options.host}:{options.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it quietly
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
