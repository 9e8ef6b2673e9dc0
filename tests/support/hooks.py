"""Outbound webhooks in tests: a real HTTP receiver on 127.0.0.1 (a small threaded
``http.server``), an app allowed to reach it, endpoints registered through the service, the
worker run once, and what the tables say."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from tests.support.loopback import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next status of ``answers`` (then 200s) and keeps it."""

    port: int
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hooks"

    @property
    def allow(self) -> str:
        return f"127.0.0.1:{self.port}"

    def types(self) -> list[str]:
        return [item.event["type"] for item in self.received]


def start_receiver(tls: ssl.SSLContext | None = None, port: int | None = None) -> Receiver:
    """A receiver on 127.0.0.1 (on ``port``, default a free one), speaking https with ``tls``
    (a server context) if given."""
    receiver = Receiver(port or free_port(), scheme="https" if tls else "http")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            receiver.received.append(
                Received({k.lower(): v for k, v in self.headers.items()}, body)
            )
            status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep the test output quiet
            pass

    receiver.server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    if tls is not None:
        receiver.server.socket = tls.wrap_socket(receiver.server.socket, server_side=True)
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    return receiver


@pytest.fixture
def receiver():
    receiver = start_receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def register(app, url: str, types=None, *, team=None) -> tuple[int, str]:
    """Register an endpoint as the CLI would; returns (endpoint id, signing secret)."""
    from portal import audit
    from portal.extensions import db
    from portal.hooks import endpoints
    from portal.hooks.catalogue import EVENT_TYPES

    with app.app_context():
        endpoint, secret = endpoints.create_endpoint(
            url, types or list(EVENT_TYPES), actor=audit.CLI, team=team
        )
        db.session.commit()
        return endpoint.id, secret


def work(app) -> dict[str, int]:
    """Run the webhook worker once over what is due now."""
    from portal.hooks.worker import run_once

    with app.app_context():
        return run_once().as_dict()


def event_types(app, public_id: str) -> list[str]:
    from portal.extensions import db
    from portal.models.hooks import HookEvent

    with app.app_context():
        return list(
            db.session.execute(
                select(HookEvent.type)
                .where(HookEvent.capture_request_public_id == public_id)
                .order_by(HookEvent.id)
            ).scalars()
        )


def bodies(app, public_id: str) -> list[dict]:
    """The request's events as a delivery carries them (``event_body``)."""
    from portal.extensions import db
    from portal.hooks.events import event_body
    from portal.models.hooks import HookEvent

    with app.app_context():
        rows = db.session.execute(
            select(HookEvent)
            .where(HookEvent.capture_request_public_id == public_id)
            .order_by(HookEvent.id)
        ).scalars()
        return [event_body(row) for row in rows]


def deliveries(app) -> list:
    """Every delivery row, oldest first, detached."""
    from portal.extensions import db
    from portal.models.hooks import HookDelivery

    with app.app_context():
        rows = list(db.session.execute(select(HookDelivery).order_by(HookDelivery.id)).scalars())
        db.session.expunge_all()
        return rows


def make_due(app, **values) -> None:
    """Every delivery still owed becomes due now (time moved on), with ``values`` set too."""
    from portal.extensions import db
    from portal.models.hooks import HookDelivery
    from portal.models.types import utcnow

    with app.app_context():
        db.session.execute(
            update(HookDelivery)
            .where(HookDelivery.status.in_(["pending", "failed"]))
            .values(next_attempt_at=utcnow(), **values)
        )
        db.session.commit()
