"""Test support for the delivery outbox: free ports, a stand-in for Twilio's Messages API, and
a real SMTP server (aiosmtpd) that can be started late.

The stand-ins sit at the edge of the world only: the code under test uses the real ``twilio``
SDK and the real ``smtplib`` against them, over real sockets.
"""

from __future__ import annotations

import json
import secrets
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "dev-only-twilio-token"


class FakeTwilio:
    """Answers ``POST /2010-04-01/Accounts/<sid>/Messages.json`` like Twilio does.

    ``mode``: "ok" (201 + a message resource), "503" / "500" (Twilio unavailable), or
    "invalid" (400, Twilio error 21211). ``received`` lists every accepted message's form.
    """

    def __init__(self):
        self.mode = "ok"
        self.received: list[dict] = []
        self.requests = 0
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _json(self, status: int, body: dict) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def app(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.requests += 1
            mode = self.mode
        expected_path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        auth = request.authorization
        if request.method != "POST" or request.path != expected_path:
            response = self._json(404, {"code": 20404, "message": "not found", "status": 404})
        elif not auth or (auth.username, auth.password) != (TWILIO_SID, TWILIO_TOKEN):
            response = self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        elif mode in ("500", "503"):
            response = Response("Service Unavailable", status=int(mode))
        elif mode == "invalid":
            response = self._json(
                400,
                {
                    "code": 21211,
                    "message": f"The 'To' number {request.form.get('To')} is not a valid phone "
                    "number.",
                    "more_info": "https://www.twilio.com/docs/errors/21211",
                    "status": 400,
                },
            )
        else:
            form = request.form.to_dict()
            sid = "SM" + secrets.token_hex(16)
            with self.lock:
                self.received.append(form)
            response = self._json(
                201,
                {
                    "sid": sid,
                    "account_sid": TWILIO_SID,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "body": form.get("Body"),
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json",
                },
            )
        return response(environ, start_response)

    def config(self) -> dict:
        return {
            "DELIVERY_SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM": "+447700900001",
            "TWILIO_API_BASE_URL": self.base_url,
            "TWILIO_TIMEOUT_SECONDS": 5,
        }


class RecordingHandler:
    """aiosmtpd handler keeping every message it accepts, as parsed EmailMessages.

    ``before_reply``, if set, sees each message before the server answers its DATA (on the
    server's thread, so it can act at the exact moment of acceptance); if it returns a reply
    such as ``"451 4.3.0 Try again later"``, the message is refused with it and not kept.
    """

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self.before_reply = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        refusal = self.before_reply(message) if self.before_reply else None
        if refusal:
            return refusal
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message)
        return "250 Message accepted for delivery"


def smtp_server(port: int) -> tuple[Controller, RecordingHandler]:
    """A real SMTP server on 127.0.0.1:``port`` (not started: call ``.start()``)."""
    handler = RecordingHandler()
    return Controller(handler, hostname="127.0.0.1", port=port), handler


def smtp_config(port: int) -> dict:
    return {
        "DELIVERY_EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_STARTTLS": False,
        "SMTP_FROM": "Postern Demo <links@postern.example>",
        "SMTP_TIMEOUT_SECONDS": 5,
    }
