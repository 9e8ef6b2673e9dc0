"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from portal.models.audit import AuditAnchor, AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, DataSubmission
from portal.models.csp_report import CspReport
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from portal.models.payment import Payment, PaymentAttempt, ProcessedWebhookEvent
from portal.models.refund import Refund
from portal.models.retention import AuditCheckpoint
from portal.models.search_indexes import BACKOFFICE_INDEXES  # noqa: F401  (registers them)
from portal.models.staff import PasswordHistory, RecoveryCode, StaffSession, StaffUser, Team

__all__ = [
    "AuditAnchor",
    "AuditCheckpoint",
    "AuditEvent",
    "CaptureRequest",
    "CapturedValue",
    "CspReport",
    "DataSubmission",
    "DeliveryAttempt",
    "DeliveryMessage",
    "Payment",
    "PasswordHistory",
    "PaymentAttempt",
    "ProcessedWebhookEvent",
    "RecoveryCode",
    "Refund",
    "StaffSession",
    "StaffUser",
    "Team",
]
