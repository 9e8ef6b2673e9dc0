"""Flask's signed-cookie session, with the check of a cookie seen moments ago remembered.

A console sends the same session cookie with every poll, every 1.5 s, and verifying it (HMAC,
base64, JSON) was a fifth of a poll's own overhead. This interface remembers, per app, what a
verified cookie held and when it was signed; the same bytes then need no second verification.
The age limit is applied on every use exactly as itsdangerous applies it (older than the
session lifetime, or signed in the future: an empty session), and each request gets its own
copy of the contents. A changed, tampered or unknown cookie takes Flask's own path.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

#: Cookies remembered per app (the most recently used; a cookie is at most 4 KiB).
CAPACITY = 1024


class RememberingCookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._seen: OrderedDict[str, tuple[dict, int]] = OrderedDict()
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        with self._lock:
            seen = self._seen.get(value)
            if seen is not None:
                self._seen.move_to_end(value)
        if seen is not None:
            contents, signed_at = seen
            age = int(time.time()) - signed_at
            if age > max_age or age < 0:
                return self.session_class()
            return self.session_class(copy.deepcopy(contents))
        serializer = self.get_signing_serializer(app)
        try:
            contents, signed = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._lock:
            self._seen[value] = (copy.deepcopy(contents), int(signed.timestamp()))
            if len(self._seen) > CAPACITY:
                self._seen.popitem(last=False)
        return self.session_class(contents)
