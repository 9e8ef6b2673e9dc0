"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from portal.models.audit import AuditEvent
from portal.models.staff import RecoveryCode, StaffSession, StaffUser, Team

__all__ = ["AuditEvent", "RecoveryCode", "StaffSession", "StaffUser", "Team"]
