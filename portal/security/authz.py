"""Roles, permissions and the one map between them.

Every check in Postern asks for a permission, never for a role, so that what a role may do is
read in one place: ``ROLE_PERMISSIONS``.
"""

from __future__ import annotations

from enum import StrEnum

from flask import current_app


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

#: What a password alone may do: an agent's own console, and only while the
#: AGENT_MFA_REQUIRED setting is off. Every other permission reads beyond one's own requests
#: (transactions, personal data, the audit log, exports), moves money or changes accounts, so
#: a role holding any of them cannot be used without a second factor. Fail closed: a new
#: permission, or a new role, needs a second factor unless it is listed here.
PASSWORD_ONLY_PERMISSIONS = frozenset(
    {Permission.CAPTURE_CREATE, Permission.CAPTURE_VIEW_OWN, Permission.CAPTURE_MANAGE}
)


def has_permission(role: str | None, permission: Permission) -> bool:
    """True if ``role`` grants ``permission``; unknown roles grant nothing."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def mfa_required(role: str | None, *, agents: bool | None = None) -> bool:
    """True if an account of ``role`` may not be used until a second factor is enrolled and
    proven at sign-in.

    Derived from the role's permissions: any permission outside PASSWORD_ONLY_PERMISSIONS
    needs a second factor. A role within them (the agent) needs one when ``agents`` is true;
    ``agents=None`` reads the AGENT_MFA_REQUIRED setting of the running app (so it needs an
    app context). An unknown role answers True: it grants nothing, and failing closed costs
    nothing.
    """
    try:
        granted = ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return True
    if granted - PASSWORD_ONLY_PERMISSIONS:
        return True
    if agents is None:
        agents = bool(current_app.config["AGENT_MFA_REQUIRED"])
    return agents
