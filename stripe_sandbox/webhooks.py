"""Webhook delivery: Stripe-signed POSTs of each event to the configured endpoint.

One background thread delivers events in creation order. A failed attempt (no answer, or a
status outside 2xx) is retried after ``base * 2**n`` seconds (capped), up to a maximum number
of attempts, before moving on: later events wait, so the receiver sees them in order.
Each attempt is signed afresh (``Stripe-Signature: t=<now>,v1=<hmac>``) as Stripe does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from .config import SandboxSettings
from .state import Store

log = logging.getLogger(__name__)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Stripe counts a redirect as a failed delivery: never follow one."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(ca_file: str | None) -> urllib.request.OpenerDirector:
    """No proxies (the endpoint is the portal next door), no redirects, and certificates
    checked against ``ca_file`` (None: the system's CAs)."""
    tls = urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_file))
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects(), tls)


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``: HMAC-SHA256 of ``"t.payload"``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_endpoint_url(url: str) -> str:
    """Only http(s) URLs: the sender must never be pointed at file: or other schemes."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError("webhook url must be an http:// or https:// URL")
    return url


class WebhookDispatcher:
    """Queues events for the endpoint and delivers them from its own thread."""

    def __init__(self, store: Store, settings: SandboxSettings) -> None:
        self._store = store
        self._settings = settings
        self._opener = _opener(settings.webhook_ca_file)
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._attempts: dict[str, int] = {}
        self._deliveries: list[dict[str, Any]] = []
        self._endpoint: tuple[str, str] | None = None
        self._generation = 0  # bumped by reset(), so an attempt in flight is not recorded
        self._stopped = False
        if settings.webhook_url and settings.webhook_secret:
            self.configure(settings.webhook_url, settings.webhook_secret)
        self._thread = threading.Thread(
            target=self._run, name="stripe-sandbox-webhooks", daemon=True
        )
        self._thread.start()

    # Lock order: callers may hold the store lock when they call in here (enqueue), so this
    # class never takes the store lock while holding its own condition.

    @property
    def enabled(self) -> bool:
        with self._cond:
            return self._endpoint is not None

    def configure(self, url: str | None, secret: str | None) -> None:
        """Point deliveries at ``url`` signed with ``secret``; ``url=None`` switches them off."""
        if url is not None:
            check_endpoint_url(url)
            if not secret:
                raise ValueError("a webhook endpoint needs a signing secret")
        with self._cond:
            self._endpoint = (url, secret) if url and secret else None
            if self._endpoint is None:
                self._queue.clear()
            self._cond.notify_all()

    def endpoint_url(self) -> str | None:
        with self._cond:
            return self._endpoint[0] if self._endpoint else None

    def enqueue(self, event_id: str) -> None:
        with self._cond:
            if self._endpoint is not None:
                self._queue.append(event_id)
                self._cond.notify_all()

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(attempt) for attempt in self._deliveries]

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._attempts.clear()
            self._deliveries.clear()
            self._generation += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not (self._queue and self._endpoint):
                    self._cond.wait()
                if self._stopped:
                    return
                event_id = self._queue[0]
                url, secret = self._endpoint  # type: ignore[misc]
                generation = self._generation
                attempt = self._attempts.get(event_id, 0) + 1
            outcome = self._attempt(event_id, url, secret, attempt)
            self._settle(event_id, attempt, generation, outcome)

    def _settle(
        self, event_id: str, attempt: int, generation: int, outcome: dict[str, Any] | None
    ) -> None:
        with self._cond:
            if generation != self._generation or not self._queue or self._queue[0] != event_id:
                return  # reset or reconfigured while the attempt was in flight
            if outcome is not None:
                self._deliveries.append(outcome)
            delivered = outcome is None or outcome["delivered"]
            if delivered or attempt >= self._settings.webhook_max_attempts:
                self._queue.popleft()
                self._attempts.pop(event_id, None)
                finished = True
            else:
                self._attempts[event_id] = attempt
                finished = False
                delay = min(
                    self._settings.webhook_retry_base_seconds * 2 ** (attempt - 1),
                    self._settings.webhook_retry_max_seconds,
                )
                deadline = time.monotonic() + delay
                # Wait out the backoff, unless stopped, reset or switched off meanwhile.
                while (
                    not self._stopped
                    and generation == self._generation
                    and self._queue
                    and (remaining := deadline - time.monotonic()) > 0
                ):
                    self._cond.wait(remaining)
        if finished:
            with self._store.lock:
                event = self._store.events.get(event_id)
                if event is not None and event["pending_webhooks"] > 0:
                    event["pending_webhooks"] -= 1

    def _attempt(self, event_id: str, url: str, secret: str, attempt: int) -> dict[str, Any] | None:
        """POST the event once; None if the event no longer exists (the sandbox was reset)."""
        with self._store.lock:
            event = self._store.events.get(event_id)
            if event is None:
                return None
            payload = json.dumps(event, indent=2).encode()
            event_type = event["type"]
        record: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "attempt": attempt,
            "url": url,
            "status": None,
            "error": None,
            "delivered": False,
            "at": int(time.time()),
        }
        # The scheme was checked in configure(): only http(s) endpoints get here.
        outgoing = urllib.request.Request(  # noqa: S310
            url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Stripe-Signature": sign(payload, secret),
            },
        )
        try:
            timeout = self._settings.webhook_timeout_seconds
            with self._opener.open(outgoing, timeout=timeout) as answer:
                record["status"] = answer.status
        except urllib.error.HTTPError as error:
            record["status"] = error.code
            error.close()
        except (urllib.error.URLError, OSError) as error:
            record["error"] = str(getattr(error, "reason", error))
        record["delivered"] = record["status"] is not None and 200 <= record["status"] < 300
        log.info(
            "webhook %s %s attempt %d -> %s",
            event_type,
            event_id,
            attempt,
            record["status"] or record["error"],
        )
        return record
