"""The one role -> permission map."""

from __future__ import annotations

import pytest

from portal.security.authz import (
    MFA_REQUIRED_ROLES,
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


def test_mfa_is_mandatory_for_back_office_and_admin():
    assert {Role.BACKOFFICE, Role.ADMIN} <= MFA_REQUIRED_ROLES
    assert mfa_required("backoffice") and mfa_required("admin")
    assert not mfa_required("agent")
    assert not mfa_required("nobody")


def test_roles_with_the_power_to_move_money_or_reveal_data_must_use_mfa():
    for role in Role:
        if any(
            has_permission(role, p)
            for p in (Permission.REFUND_APPROVE, Permission.DATA_REVEAL, Permission.STAFF_MANAGE)
        ):
            assert mfa_required(role), role
