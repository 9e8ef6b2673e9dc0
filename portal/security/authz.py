"""Roles, permissions and the one map between them.

Every check in Postern asks for a permission, never for a role, so that what a role may do is
read in one place: ``ROLE_PERMISSIONS``.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    BACKOFFICE = "backoffice"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    # Agent console.
    CAPTURE_CREATE = "capture.create"
    CAPTURE_VIEW_OWN = "capture.view_own"
    CAPTURE_VIEW_TEAM = "capture.view_team"
    CAPTURE_MANAGE = "capture.manage"  # revoke, resend, extend
    # Back office.
    BACKOFFICE_VIEW = "backoffice.view"
    TRANSACTIONS_VIEW_ALL = "transactions.view_all"
    REFUND_REQUEST = "refund.request"
    REFUND_APPROVE = "refund.approve"
    DATA_REVEAL = "data.reveal"
    DATA_SUBJECT_REQUESTS = "data.subject_requests"
    EXPORT = "export"
    AUDIT_VIEW = "audit.view"
    STAFF_MANAGE = "staff.manage"
    SETTINGS_MANAGE = "settings.manage"


_AGENT = {Permission.CAPTURE_CREATE, Permission.CAPTURE_VIEW_OWN, Permission.CAPTURE_MANAGE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(_AGENT),
    Role.SUPERVISOR: frozenset(
        _AGENT | {Permission.CAPTURE_VIEW_TEAM, Permission.BACKOFFICE_VIEW, Permission.EXPORT}
    ),
    Role.BACKOFFICE: frozenset(
        {
            Permission.BACKOFFICE_VIEW,
            Permission.TRANSACTIONS_VIEW_ALL,
            Permission.REFUND_REQUEST,
            Permission.REFUND_APPROVE,
            Permission.DATA_REVEAL,
            Permission.DATA_SUBJECT_REQUESTS,
            Permission.EXPORT,
            Permission.AUDIT_VIEW,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.BACKOFFICE_VIEW,
            Permission.TRANSACTIONS_VIEW_ALL,
            Permission.AUDIT_VIEW,
            Permission.STAFF_MANAGE,
            Permission.SETTINGS_MANAGE,
        }
    ),
    # Auditors read everything except revealed values, and change nothing.
    Role.AUDITOR: frozenset(
        {
            Permission.BACKOFFICE_VIEW,
            Permission.TRANSACTIONS_VIEW_ALL,
            Permission.AUDIT_VIEW,
            Permission.EXPORT,
        }
    ),
}

#: Roles whose accounts cannot be used until a second factor is enrolled and proven.
MFA_REQUIRED_ROLES = frozenset({Role.BACKOFFICE, Role.ADMIN})


def has_permission(role: str | None, permission: Permission) -> bool:
    """True if ``role`` grants ``permission``; unknown roles grant nothing."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def mfa_required(role: str) -> bool:
    return role in MFA_REQUIRED_ROLES
