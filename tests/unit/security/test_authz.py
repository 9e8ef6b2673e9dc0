"""The one role -> permission map."""

from __future__ import annotations

import pytest

from portal.security.authz import (
    PASSWORD_ONLY_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    has_permission,
    mfa_required,
)


def test_every_role_has_an_entry():
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.parametrize("role", [None, "", "root", "ADMIN", "agent ", "superuser"])
def test_unknown_roles_grant_nothing(role):
    assert not any(has_permission(role, permission) for permission in Permission)


def test_agents_work_the_console_and_nothing_else():
    granted = {p for p in Permission if has_permission("agent", p)}
    assert granted == {
        Permission.CAPTURE_CREATE,
        Permission.CAPTURE_VIEW_OWN,
        Permission.CAPTURE_MANAGE,
    }


def test_supervisors_see_their_team_but_do_not_refund_or_reveal():
    assert has_permission("supervisor", Permission.CAPTURE_VIEW_TEAM)
    assert has_permission("supervisor", Permission.CAPTURE_CREATE)
    for permission in (
        Permission.REFUND_APPROVE,
        Permission.DATA_REVEAL,
        Permission.STAFF_MANAGE,
        Permission.TRANSACTIONS_VIEW_ALL,
    ):
        assert not has_permission("supervisor", permission)


def test_auditors_read_but_change_nothing_and_reveal_nothing():
    for permission in (
        Permission.REFUND_REQUEST,
        Permission.REFUND_APPROVE,
        Permission.DATA_REVEAL,
        Permission.DATA_SUBJECT_REQUESTS,
        Permission.STAFF_MANAGE,
        Permission.SETTINGS_MANAGE,
        Permission.CAPTURE_CREATE,
        Permission.CAPTURE_MANAGE,
    ):
        assert not has_permission("auditor", permission)
    assert has_permission("auditor", Permission.AUDIT_VIEW)
    assert has_permission("auditor", Permission.TRANSACTIONS_VIEW_ALL)


def test_admins_manage_staff_but_handle_no_money_or_personal_data():
    assert has_permission("admin", Permission.STAFF_MANAGE)
    for permission in (
        Permission.REFUND_APPROVE,
        Permission.REFUND_REQUEST,
        Permission.DATA_REVEAL,
        Permission.CAPTURE_CREATE,
    ):
        assert not has_permission("admin", permission)


def test_only_back_office_staff_reach_the_back_office():
    reach = {role for role in Role if has_permission(role, Permission.BACKOFFICE_VIEW)}
    assert reach == {Role.SUPERVISOR, Role.BACKOFFICE, Role.ADMIN, Role.AUDITOR}


def test_every_role_that_reads_beyond_its_own_requests_must_use_mfa():
    for role in ("supervisor", "backoffice", "admin", "auditor"):
        assert mfa_required(role, agents=False), role
    assert not mfa_required("agent", agents=False)
    assert mfa_required("agent", agents=True)


def test_an_unknown_role_fails_closed():
    assert mfa_required("nobody", agents=False) and mfa_required(None, agents=False)


@pytest.mark.parametrize(
    "permission",
    [
        Permission.TRANSACTIONS_VIEW_ALL,
        Permission.CAPTURE_VIEW_TEAM,
        Permission.DATA_REVEAL,
        Permission.DATA_SUBJECT_REQUESTS,
        Permission.EXPORT,
        Permission.AUDIT_VIEW,
        Permission.REFUND_REQUEST,
        Permission.REFUND_APPROVE,
        Permission.STAFF_MANAGE,
    ],
)
def test_a_password_alone_never_grants_reading_data_or_moving_money(permission):
    assert permission not in PASSWORD_ONLY_PERMISSIONS
    for role in Role:
        if has_permission(role, permission):
            assert mfa_required(role, agents=False), (role, permission)


def test_the_policy_follows_the_permissions_not_a_list_of_roles(monkeypatch):
    """A role given one more permission (or a new role) needs a second factor without anyone
    remembering to say so."""
    widened = {**ROLE_PERMISSIONS, Role.AGENT: ROLE_PERMISSIONS[Role.AGENT] | {Permission.EXPORT}}
    monkeypatch.setattr("portal.security.authz.ROLE_PERMISSIONS", widened)
    assert mfa_required("agent", agents=False)


def test_agents_follow_the_setting_of_the_running_app():
    from portal import create_app

    for setting in (False, True):
        app = create_app("testing", {"AGENT_MFA_REQUIRED": setting})
        with app.app_context():
            assert mfa_required("agent") is setting
            assert mfa_required("auditor")
