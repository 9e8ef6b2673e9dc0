"""Passkey ceremonies through the real views for tests without a browser, answered by the
software authenticator (``tests.support.passkey_authenticator``): register one from the
account page, use one as the second factor at sign-in, read a person's passkeys."""

from __future__ import annotations

from tests.support.web import csrf_from

ORIGIN = "http://127.0.0.1:5000"  # the testing PUBLIC_BASE_URL: RP ID 127.0.0.1


def send(client, url: str, token: str, body: dict | None = None):
    """POST ``body`` as JSON with the CSRF token in its header, as static/js/auth/passkeys.js
    does."""
    return client.post(
        url, json=body or {}, headers={"X-CSRFToken": token, "Accept": "application/json"}
    )


def register(client, authenticator, name="Work laptop"):
    token = csrf_from(client.get("/account").get_data(as_text=True))
    options = send(client, "/account/passkeys/options", token).get_json()
    credential = authenticator.create(options)
    return send(client, "/account/passkeys", token, {"name": name, "credential": credential})


def second_factor(client, authenticator, **answer):
    page = client.get("/login/mfa")
    token = csrf_from(page.get_data(as_text=True))
    options = send(client, "/login/passkey/options", token).get_json()
    credential = authenticator.get(options, **answer)
    return send(client, "/login/passkey", token, {"credential": credential}), options, credential


def passkeys_of(app, user_id):
    from portal.extensions import db
    from portal.staff.passkeys import passkeys_of as query

    with app.app_context():
        rows = query(user_id)
        db.session.expunge_all()
        return rows
