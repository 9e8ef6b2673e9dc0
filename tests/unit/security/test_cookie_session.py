"""portal.security.cookie_session: a cookie verified once is not verified again, yet reads as
Flask's own interface reads it: the same contents, each request its own copy, the age limit on
every use, and a tampered cookie empty."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

from flask.sessions import SecureCookieSessionInterface

from portal.security import cookie_session


def _cookie_for(app, contents: dict) -> str:
    return SecureCookieSessionInterface().get_signing_serializer(app).dumps(contents)


def _open(app, cookie: str):
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context(headers={"Cookie": f"{name}={cookie}"}) as context:
        return app.session_interface.open_session(app, context.request)


def test_the_same_cookie_reads_the_same_and_each_request_gets_its_own_copy(app, monkeypatch):
    cookie = _cookie_for(app, {"sid": "abc", "flashes": [["info", "Saved."]]})
    first = _open(app, cookie)
    assert dict(first) == {"sid": "abc", "flashes": [["info", "Saved."]]}
    first["flashes"].append(["error", "changed in one request"])
    first["sid"] = "changed"

    def no_second_check(*args, **kwargs):
        raise AssertionError("verified again")

    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", no_second_check)
    again = _open(app, cookie)
    assert dict(again) == {"sid": "abc", "flashes": [["info", "Saved."]]}


def test_a_tampered_cookie_is_an_empty_session(app):
    cookie = _cookie_for(app, {"sid": "abc"})
    _open(app, cookie)
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    assert dict(_open(app, tampered)) == {}


def test_a_remembered_cookie_still_ages_out(app, monkeypatch):
    app.permanent_session_lifetime = timedelta(seconds=60)
    cookie = _cookie_for(app, {"sid": "abc"})
    assert dict(_open(app, cookie)) == {"sid": "abc"}
    later = time.time() + 61
    monkeypatch.setattr(cookie_session, "time", SimpleNamespace(time=lambda: later))
    assert dict(_open(app, cookie)) == {}
    earlier = time.time() - 5  # signed "in the future": itsdangerous refuses it too
    monkeypatch.setattr(cookie_session, "time", SimpleNamespace(time=lambda: earlier))
    assert dict(_open(app, cookie)) == {}
