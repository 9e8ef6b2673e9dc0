"""Injected failures for ``/v1/`` calls, switched on through ``POST /_sandbox/faults``.

* ``500`` and ``429`` refuse the call before it reaches the API (nothing happens, nothing is
  saved under its idempotency key), like a failing load balancer or Stripe's rate limiter.
* ``garbled`` answers 200 with a JSON object that is not the resource asked for (no ``id``, no
  ``object`` Stripe would send), like a misconfigured proxy or an API change: the client's
  own parsing fails, which no Stripe error class describes.
* ``timeout`` and ``drop`` let the API carry the call out and then lose the answer: it is held
  back for ``timeout_seconds`` (the client gives up first), or the connection is closed without
  a byte written. That is the case idempotency keys exist for: a retry with the same key
  replays the saved answer instead of acting twice.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

MODES = ("timeout", "500", "429", "drop", "garbled")
#: WSGI environ key through which the Flask app tells the middleware which fault applies.
ENVIRON_KEY = "stripe_sandbox.fault"


@dataclass
class Fault:
    mode: str
    remaining: int
    path_prefix: str | None = None
    timeout_seconds: float | None = None

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (not self.path_prefix or path.startswith(self.path_prefix))


class FaultBook:
    """The queue of armed faults; the first armed fault matching a call applies to it."""

    def __init__(self, default_timeout_seconds: float) -> None:
        self.default_timeout_seconds = default_timeout_seconds
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        # Held-back answers wait on this event, so clear() and stop() release them at once.
        self._release = threading.Event()

    def arm(
        self,
        mode: str,
        count: int = 1,
        path_prefix: str | None = None,
        timeout_seconds: float | None = None,
    ) -> Fault:
        """Queue a fault; raises ValueError for an unknown mode or a count below 1."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        if path_prefix is not None and not path_prefix.startswith("/v1/"):
            raise ValueError("path_prefix must start with /v1/ (faults apply to API calls only)")
        fault = Fault(mode, count, path_prefix, timeout_seconds)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """Use up one occurrence of the first fault matching ``path``; None if there is none."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return Fault(
                        fault.mode,
                        1,
                        fault.path_prefix,
                        fault.timeout_seconds or self.default_timeout_seconds,
                    )
        return None

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def clear(self) -> None:
        """Disarm every fault and release answers being held back."""
        with self._lock:
            self._faults.clear()
            self._release.set()
            self._release = threading.Event()

    def hold(self, seconds: float) -> None:
        with self._lock:
            release = self._release
        release.wait(seconds)


class FaultMiddleware:
    """WSGI wrapper applying ``timeout`` and ``drop`` after the app has answered."""

    def __init__(self, app: Callable[..., Iterable[bytes]], book: FaultBook) -> None:
        self.app = app
        self.book = book

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        answer: dict[str, Any] = {}

        def remember_start(status: str, headers: list, exc_info: Any = None) -> Callable:
            answer.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # Flask never uses the legacy write() callable

        body = self.app(environ, remember_start)
        fault: Fault | None = environ.get(ENVIRON_KEY)
        if fault is not None and fault.mode == "drop":
            _close_quietly(body)
            drop_connection(environ)
        if fault is not None and fault.mode == "timeout":
            self.book.hold(fault.timeout_seconds or self.book.default_timeout_seconds)
        start_response(answer["status"], answer["headers"], answer["exc_info"])
        return body


def drop_connection(environ: dict[str, Any]) -> None:
    """End the exchange with no response at all: the client sees the connection closed.

    Shutting the socket down (not closing it: the server still owns the file descriptor) and
    raising ConnectionAbortedError makes werkzeug treat it as a dropped connection and write
    nothing, not even its own 500 page.
    """
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):  # already gone: the outcome is the same
            connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("stripe-sandbox fault: connection dropped")


def _close_quietly(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()
