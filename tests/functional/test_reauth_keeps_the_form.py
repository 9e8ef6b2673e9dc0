"""Re-authentication returns to the form with what was entered: a refund, a new colleague, an
erasure. Secrets (passwords, the CSRF token) are never kept, the values travel sealed, and they
are used once, by the same form on the same page."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.backoffice_write import (
    data_request,
    paid_request,
    reauth,
    refund_form,
    refund_url,
    refunds_in_db,
)
from tests.support.payments import sandbox_settings
from tests.support.web import csrf_from, login, post_form

NOTE = "Customer moved house, Ms Quill asked on the call"
RESTORED = "What you entered is filled in again"


@pytest.fixture
def bo_app(app_factory, stripe_sandbox):
    return app_factory(**sandbox_settings(stripe_sandbox))


def _signed_in(app, make_staff, role):
    client = app.test_client()
    user = make_staff(role, mfa=True)
    login(client, user)
    return client, user


def _value_of(page: str, name: str) -> str | None:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page
    )
    return found.group(1) if found else None


def _session_cookie(client, app) -> str:
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def test_a_refund_form_comes_back_filled_in_and_refunds_once(bo_app, stripe_sandbox, make_staff):
    agent = make_staff("agent")
    client, user = _signed_in(bo_app, make_staff, "backoffice")
    public_id = paid_request(bo_app, stripe_sandbox, agent.id)
    form = refund_form(client, public_id)
    sent = {"scope": "partial", "amount": "5.00", "reason_code": "duplicate", "note": NOTE}

    asked = client.post(refund_url(public_id), data={**sent, **form})
    assert asked.headers["Location"].startswith("/backoffice/reauth?next=")
    # Sealed in the cookie: the note cannot be read from the session's contents.
    with bo_app.test_request_context():
        serializer = bo_app.session_interface.get_signing_serializer(bo_app)
        contents = serializer.loads(_session_cookie(client, bo_app))
    assert "kept_form" in contents and NOTE not in json.dumps(contents)
    assert reauth(client, user).status_code == 303

    page = client.get(refund_url(public_id)).get_data(as_text=True)
    assert RESTORED in page
    assert _value_of(page, "amount") == "5.00" and NOTE in page
    assert re.search(
        r'<option[^>]*selected[^>]*value="duplicate"|value="duplicate"[^>]*selected', page
    )
    assert refunds_in_db(bo_app) == []

    # Submitted once more, as shown: refunded once, with what was kept.
    resent = {**sent, "form_key": _value_of(page, "form_key"), "csrf_token": csrf_from(page)}
    assert client.post(refund_url(public_id), data=resent).status_code == 303
    [refund] = refunds_in_db(bo_app, public_id)
    assert (refund.amount_minor, refund.reason_code) == (500, "duplicate")

    # Used once: the next visit is a fresh form.
    again = client.get(refund_url(public_id)).get_data(as_text=True)
    assert RESTORED not in again and NOTE not in again


def test_a_new_colleague_comes_back_without_the_password(app, make_staff):
    client, user = _signed_in(app, make_staff, "admin")
    form = {
        "username": "kept.officer",
        "display_name": "Kept Officer",
        "email": "kept@example.org",
        "role": "backoffice",
        "team": "Refunds",
        "password": "a long enough initial password",
        "confirm_password": "a long enough initial password",
    }
    first = post_form(client, "/backoffice/staff/new", form)
    assert first.headers["Location"].startswith("/backoffice/reauth")
    assert reauth(client, user).status_code == 303

    page = client.get("/backoffice/staff/new").get_data(as_text=True)

    assert RESTORED in page
    assert _value_of(page, "username") == "kept.officer"
    assert _value_of(page, "email") == "kept@example.org"
    assert _value_of(page, "team") == "Refunds"
    assert "a long enough initial password" not in page


def test_an_erasure_reason_comes_back_on_the_request_page(app, make_staff):
    agent = make_staff("agent")
    public_id = data_request(app, agent.id, status="expired")
    client, user = _signed_in(app, make_staff, "backoffice")
    page_url = f"/backoffice/data-requests/{public_id}"

    asked = post_form(
        client,
        page_url + "/erase",
        {"reason": "Erasure request ER-91", "confirm": "y"},
        page=page_url,
    )
    assert asked.headers["Location"].startswith("/backoffice/reauth")
    assert reauth(client, user).status_code == 303

    page = client.get(page_url).get_data(as_text=True)
    assert RESTORED in page and "Erasure request ER-91" in page


def test_kept_values_open_only_on_their_own_page(app, make_staff):
    client, user = _signed_in(app, make_staff, "admin")
    form = {
        "username": "elsewhere",
        "display_name": "Else Where",
        "role": "backoffice",
        "password": "a long enough initial password",
        "confirm_password": "a long enough initial password",
    }
    post_form(client, "/backoffice/staff/new", form)
    assert reauth(client, user).status_code == 303

    other = client.get("/backoffice/webhooks/new").get_data(as_text=True)
    assert RESTORED not in other and "elsewhere" not in other
    # still waiting for its own page
    assert "elsewhere" in client.get("/backoffice/staff/new").get_data(as_text=True)
