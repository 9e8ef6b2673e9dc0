"""TOTP second factor: enrolment, sign-in, replay, recovery codes, forced enrolment, reset."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pyotp
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models.staff import RecoveryCode
from tests.support.auth import audit_rows, session_rows, staff_row, text_of, wrong_totp
from tests.support.staff import DEFAULT_PASSWORD, Staff
from tests.support.web import current_totp, login, post_form

REPLAY_MESSAGE = "That code is not right, or was already used."


def _secret_on(page) -> str:
    match = re.search(r'<code class="secret" id="totp-secret">([A-Z2-7]+)</code>', page)
    assert match, "the setup page shows the key for typing by hand"
    return match.group(1)


def _enrol(client) -> tuple[str, list[str], object]:
    """Go through the setup page like a person with an authenticator app would."""
    page = client.get("/account/mfa/setup").get_data(as_text=True)
    secret = _secret_on(page)
    response = post_form(client, "/account/mfa/setup", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.get_data(as_text=True))
    return secret, codes, response


def _with_secret(user: Staff, secret: str) -> Staff:
    return Staff(user.id, user.username, user.role, user.team_id, secret, True)


def _recovery_count(app, user_id: int, *, unused: bool = False) -> int:
    with app.app_context():
        query = (
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user_id)
        )
        if unused:
            query = query.where(RecoveryCode.used_at.is_(None))
        return db.session.scalar(query)


def test_the_qr_code_is_a_plain_svg_image_without_script(app, logged_in):
    client, _ = logged_in("agent")
    client.get("/account/mfa/setup")
    response = client.get("/account/mfa/qr.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "<script" not in body.lower()
    assert not re.search(r"\bon[a-z]+\s*=", body)  # no event handler attributes
    assert "javascript:" not in body.lower() and "<foreignobject" not in body.lower()
    root = ET.fromstring(body)  # noqa: S314
    assert root.tag.endswith("svg")


def test_enrolment_needs_a_right_code_and_then_shows_ten_recovery_codes_once(app, logged_in):
    client, user = logged_in("agent")
    page = client.get("/account/mfa/setup")
    assert page.status_code == 200
    secret = _secret_on(page.get_data(as_text=True))
    with app.app_context():  # the seed is stored sealed: reading it needs the app's keys
        assert staff_row(app, user.id).totp_secret == secret
    assert 'src="/account/mfa/qr.svg"' in page.get_data(as_text=True)

    enrolling = _with_secret(user, secret)
    refused = post_form(client, "/account/mfa/setup", {"code": wrong_totp(enrolling)})
    assert refused.status_code == 400
    assert "That code is not right" in text_of(refused)
    assert not staff_row(app, user.id).mfa_enabled
    assert audit_rows(app, "auth.mfa_enrolment_failed")

    response = post_form(client, "/account/mfa/setup", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", code) for code in codes)
    assert staff_row(app, user.id).mfa_enabled
    assert _recovery_count(app, user.id) == 10
    assert audit_rows(app, "auth.mfa_enrolled")

    # Shown once: the codes are stored only as hashes and the setup page is closed now.
    with app.app_context():
        hashes = db.session.execute(select(RecoveryCode.code_hash)).scalars().all()
    assert not any(code in stored for code in codes for stored in hashes)
    again = client.get("/account/mfa/setup")
    assert again.status_code == 302 and again.headers["Location"] == "/account"
    assert client.get("/account/mfa/qr.svg").status_code == 404
    assert not any(code in client.get("/account").get_data(as_text=True) for code in codes)
    assert "10 recovery codes left" in text_of(client.get("/account"))


def test_signing_in_with_the_authenticator_after_enrolment(app, logged_in):
    client, user = logged_in("agent")
    secret, _, _ = _enrol(client)
    post_form(client, "/logout", {}, page="/account")

    enrolled = _with_secret(user, secret)
    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/login/mfa"
    # The code used at enrolment is spent; the next one works.
    response = post_form(client, "/login/mfa", {"code": current_totp(enrolled, offset_steps=1)})
    assert response.status_code == 302 and response.headers["Location"] == "/agent/"
    assert client.get("/agent/").status_code == 200
    assert audit_rows(app, "auth.login")[-1].details == {"factors": "password+totp"}


def test_a_totp_code_cannot_be_replayed(app, client, make_staff):
    user = make_staff("backoffice", mfa=True)
    code = current_totp(user)
    login(client, user)
    post_form(client, "/logout", {}, page="/account")

    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    replayed = post_form(client, "/login/mfa", {"code": code})
    assert replayed.status_code == 401
    assert REPLAY_MESSAGE in text_of(replayed)
    assert client.get("/backoffice/").status_code == 302
    assert staff_row(app, user.id).failed_login_count == 1

    fresh = post_form(client, "/login/mfa", {"code": current_totp(user, offset_steps=1)})
    assert fresh.status_code == 302
    assert client.get("/backoffice/").status_code == 200


def test_codes_from_the_neighbouring_steps_are_accepted_but_not_further(client, make_staff):
    user = make_staff("backoffice", mfa=True)
    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    too_old = post_form(client, "/login/mfa", {"code": current_totp(user, offset_steps=-3)})
    if current_totp(user, offset_steps=-3) not in {
        current_totp(user, offset_steps=step) for step in (-1, 0, 1)
    }:
        assert too_old.status_code == 401
    drifted = post_form(client, "/login/mfa", {"code": current_totp(user, offset_steps=-1)})
    assert drifted.status_code == 302


@pytest.mark.parametrize("typed", ["{code}", "{upper}", "{bare}", " {code} "])
def test_a_recovery_code_works_once(app, logged_in, typed):
    client, user = logged_in("agent")
    secret, codes, _ = _enrol(client)
    post_form(client, "/logout", {}, page="/account")
    code = codes[3]
    entered = typed.format(code=code, upper=code.upper(), bare=code.replace("-", ""))

    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    response = post_form(client, "/login/mfa", {"code": entered})
    assert response.status_code == 302
    assert client.get("/agent/").status_code == 200
    (used,) = audit_rows(app, "auth.recovery_code_used")
    assert used.details == {"remaining": 9}
    assert _recovery_count(app, user.id, unused=True) == 9

    post_form(client, "/logout", {}, page="/account")
    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    again = post_form(client, "/login/mfa", {"code": entered})
    assert again.status_code == 401
    assert REPLAY_MESSAGE in text_of(again)
    assert _with_secret(user, secret).mfa_enabled


@pytest.mark.parametrize("role", ["supervisor", "backoffice", "admin", "auditor"])
def test_every_account_that_reads_data_must_enrol_before_anything_else(
    app, client, make_staff, role
):
    """An account of a role that reads beyond its own requests, without a second factor (made
    before the role needed one, or reset), enrols at its next sign-in."""
    user = make_staff(role, mfa=False)
    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/mfa/setup"
    for path in ("/backoffice/", "/account", "/account/password", "/login/mfa"):
        blocked = client.get(path)
        assert blocked.status_code == 302, path
        assert blocked.headers["Location"] == "/account/mfa/setup", path
    assert audit_rows(app, "auth.mfa_enrolment_required")
    assert not audit_rows(app, "auth.login")

    _, codes, response = _enrol(client)
    assert len(codes) == 10
    assert 'href="/backoffice/"' in response.get_data(as_text=True)
    assert client.get("/backoffice/").status_code == 200
    assert audit_rows(app, "auth.login")[-1].details == {"factors": "password+totp_enrolment"}
    first, second = session_rows(app, user.id)
    assert first.end_reason == "rotated" and second.mfa_verified


def test_agents_must_enrol_too_when_the_setting_says_so(app_factory, make_staff):
    app = app_factory(AGENT_MFA_REQUIRED=True)
    client = app.test_client()
    user = make_staff("agent", mfa=False)

    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )

    assert response.headers["Location"] == "/account/mfa/setup"
    assert client.get("/agent/").headers["Location"] == "/account/mfa/setup"
    assert "Your account needs two-step verification" in text_of(client.get("/account/mfa/setup"))
    assert audit_rows(app, "auth.mfa_enrolment_required") and not audit_rows(app, "auth.login")
    _, codes, response = _enrol(client)
    assert len(codes) == 10 and 'href="/agent/"' in response.get_data(as_text=True)
    assert client.get("/agent/").status_code == 200


def test_an_enrolled_agent_is_asked_for_the_code_whatever_the_setting(app, make_staff):
    """With AGENT_MFA_REQUIRED off (the testing default) an agent who chose to enrol still
    proves the second factor at every sign-in."""
    client = app.test_client()
    user = make_staff("agent", mfa=True)
    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/login/mfa"
    assert client.get("/agent/").headers["Location"] == "/login/mfa"


def test_a_password_alone_never_reaches_the_back_office(client, make_staff):
    user = make_staff("backoffice", mfa=True)
    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response.headers["Location"] == "/login/mfa"
    json_response = client.get("/backoffice/", headers={"Accept": "application/json"})
    assert json_response.status_code in (302, 401)
    assert b"Back office" not in json_response.get_data()


def test_a_voluntary_enrolment_cannot_be_started_by_a_password_only_session(client, make_staff):
    user = make_staff("agent", mfa=True)
    post_form(client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD})
    response = client.get("/account/mfa/setup")
    assert response.status_code == 302


def test_reset_mfa_removes_the_second_factor_and_forces_a_new_enrolment(app, client, make_staff):
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    with app.app_context():
        from portal.models.staff import StaffUser
        from portal.staff import mfa

        mfa.issue_recovery_codes(db.session.get(StaffUser, user.id))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["users", "reset-mfa", user.username])
    assert result.exit_code == 0, result.output
    assert f"second factor removed for {user.username}" in result.output

    row = staff_row(app, user.id)
    assert not row.mfa_enabled and row.totp_secret is None and row.totp_last_step is None
    assert _recovery_count(app, user.id) == 0
    assert client.get("/backoffice/").status_code == 302  # its session ended
    (audited,) = audit_rows(app, "staff.mfa_reset")
    assert audited.details == {"sessions_ended": 1, "passkeys_removed": 0}
    assert audited.actor_label == "cli"

    response = post_form(
        client, "/login", {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["Location"] == "/account/mfa/setup"


def test_reset_mfa_for_an_unknown_user_fails(app):
    result = app.test_cli_runner().invoke(args=["users", "reset-mfa", "nobody"])
    assert result.exit_code != 0
    assert "no staff account named 'nobody'" in result.output
