"""Staff management by administrators (create, role, team, disable, re-enable, reset the
second factor), its rules (never one's own account; re-authentication first; audited), and
an auditor trying every write action of the back office."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.backoffice_write import audit_rows, reauth
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import csrf_from, login, post_form


@pytest.fixture
def admin(app, make_staff):
    client = app.test_client()
    user = make_staff("admin", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    return client, user


def load_user(app, user_id):
    from portal.extensions import db
    from portal.models.staff import StaffUser

    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        team = user.team.name if user.team else None
        db.session.expunge(user)
        return user, team


def act(client, user_id, action, data=None):
    page = f"/backoffice/staff/{user_id}"
    return post_form(client, f"{page}/{action}", data or {}, page=page)


def test_an_admin_creates_an_account_after_reauthenticating(app, make_staff):
    client = app.test_client()
    user = make_staff("admin", mfa=True)
    login(client, user)
    form = {
        "username": "new.officer",
        "display_name": "New Officer",
        "email": "",
        "role": "backoffice",
        "team": "Refunds",
        "password": "a long enough initial password",
        "confirm_password": "a long enough initial password",
    }

    first = post_form(client, "/backoffice/staff/new", form)
    assert first.headers["Location"].startswith("/backoffice/reauth")
    reauth(client, user)
    created = post_form(client, "/backoffice/staff/new", form)

    assert created.status_code == 303
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "New Officer" in page and "two-step verification at first sign-in" in page
    [row] = [r for r in audit_rows(app, "staff.created") if r.actor_id == user.id]
    assert row.target_id != str(user.id) and row.details == {
        "role": "backoffice",
        "team": "Refunds",
    }
    taken = post_form(client, "/backoffice/staff/new", form)
    assert taken.status_code == 400 and "is taken" in taken.get_data(as_text=True)
    assert "a long enough initial password" not in taken.get_data(as_text=True)


def test_role_and_team_changes_end_sessions_and_are_audited(app, admin, make_staff):
    client, boss = admin
    target = make_staff("agent", team="North")
    target_client = app.test_client()
    login(target_client, target)

    response = act(client, target.id, "update", {"role": "supervisor", "team": "South"})

    assert response.status_code == 303
    user, team = load_user(app, target.id)
    assert (user.role, team) == ("supervisor", "South")
    assert target_client.get("/agent/").status_code == 302  # signed out: new rights apply
    role = audit_rows(app, "staff.role_changed")[0]
    assert role.details == {"from": "agent", "to": "supervisor", "sessions_ended": 1}
    assert role.actor_id == boss.id
    assert audit_rows(app, "staff.team_changed")[0].details == {"from": "North", "to": "South"}


def test_nobody_changes_their_own_role_or_disables_themselves(app, admin):
    client, boss = admin

    page = client.get(f"/backoffice/staff/{boss.id}").get_data(as_text=True)
    assert "This is your own account" in page
    for action, data in (("update", {"role": "auditor", "team": ""}), ("disable", {})):
        response = act(client, boss.id, action, data)
        assert response.status_code == 303
        message = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "You cannot" in message and "your own account" in message
    user, _ = load_user(app, boss.id)
    assert user.role == "admin" and user.is_active
    assert audit_rows(app, "staff.role_changed") == audit_rows(app, "staff.disabled") == []


def test_disable_ends_sessions_and_enable_restores_sign_in(app, admin, make_staff):
    client, _ = admin
    target = make_staff("agent")
    target_client = app.test_client()
    login(target_client, target)

    act(client, target.id, "disable")

    assert not load_user(app, target.id)[0].is_active
    assert target_client.get("/agent/").status_code == 302
    refused = post_form(
        app.test_client(), "/login", {"username": target.username, "password": DEFAULT_PASSWORD}
    )
    assert refused.status_code == 401
    act(client, target.id, "enable")
    assert load_user(app, target.id)[0].is_active
    login(app.test_client(), target)
    assert [r.action for r in audit_rows(app, "staff.")] == ["staff.created"] * 2 + [
        "staff.disabled",
        "staff.enabled",
    ]


def test_reset_mfa_removes_the_second_factor(app, admin, make_staff):
    client, _ = admin
    target = make_staff("backoffice", mfa=True)

    act(client, target.id, "reset-mfa")

    user, _ = load_user(app, target.id)
    assert (user.mfa_enabled, user.totp_secret) == (False, None)
    assert audit_rows(app, "staff.mfa_reset")[0].target_id == str(target.id)
    fresh = app.test_client()
    again = post_form(fresh, "/login", {"username": target.username, "password": DEFAULT_PASSWORD})
    assert again.headers["Location"] == "/account/mfa/setup"  # must enrol again


def test_back_office_users_cannot_manage_staff(app, logged_in, make_staff):
    client, _ = logged_in("backoffice")
    other = make_staff("agent")
    assert client.get("/backoffice/staff").status_code == 403
    token = csrf_from(client.get("/backoffice/refunds").get_data(as_text=True))
    assert (
        client.post(f"/backoffice/staff/{other.id}/disable", data={"csrf_token": token}).status_code
        == 403
    )


def test_an_auditor_can_read_but_every_write_action_is_refused(app, logged_in, make_staff):
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    client, _ = logged_in("auditor")
    other = make_staff("agent")
    assert client.get("/backoffice/refunds").status_code == 200
    token = csrf_from(client.get("/backoffice/refunds").get_data(as_text=True))
    with app.app_context():
        before = db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))
    writes = [
        "/backoffice/refunds/new/AAAAAAAAAA",
        "/backoffice/refunds/1/approve",
        "/backoffice/refunds/1/reject",
        "/backoffice/refunds/1/retry",
        "/backoffice/requests/AAAAAAAAAA/data/reveal",
        "/backoffice/data-requests/AAAAAAAAAA/export",
        "/backoffice/data-requests/AAAAAAAAAA/erase",
        "/backoffice/staff/new",
        f"/backoffice/staff/{other.id}/update",
        f"/backoffice/staff/{other.id}/disable",
        f"/backoffice/staff/{other.id}/enable",
        f"/backoffice/staff/{other.id}/reset-mfa",
    ]
    answers = {
        url: client.post(
            url, data={"csrf_token": token, "reason": "x", "note": "x", "role": "admin"}
        ).status_code
        for url in writes
    }

    assert answers == dict.fromkeys(writes, 403)
    with app.app_context():
        after = db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))
    assert after == before  # nothing happened, so nothing was audited
    assert load_user(app, other.id)[0].is_active
