"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from portal.models.api_key import ApiKey, IdempotentRequest
from portal.models.audit import AuditAnchor, AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, DataSubmission, ErasureJournalEntry
from portal.models.csp_report import CspReport
from portal.models.data_keys import DataKey
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from portal.models.dispute import Dispute
from portal.models.heartbeat import WorkerHeartbeat
from portal.models.hooks import HookAttempt, HookDelivery, HookEndpoint, HookEvent, HookSecret
from portal.models.passkey import Passkey, PasskeyChallenge
from portal.models.payment import Payment, PaymentAttempt, ProcessedWebhookEvent
from portal.models.queue_indexes import QUEUE_GAUGE_INDEXES  # noqa: F401  (registers them)
from portal.models.refund import Refund
from portal.models.retention import AuditCheckpoint
from portal.models.search_indexes import BACKOFFICE_INDEXES  # noqa: F401  (registers them)
from portal.models.security_notification import SecurityNotification
from portal.models.single_sign_on import SsoIdentity, SsoSession
from portal.models.staff import PasswordHistory, RecoveryCode, StaffSession, StaffUser, Team

__all__ = [
    "ApiKey",
    "AuditAnchor",
    "AuditCheckpoint",
    "AuditEvent",
    "CaptureRequest",
    "CapturedValue",
    "CspReport",
    "DataKey",
    "DataSubmission",
    "DeliveryAttempt",
    "DeliveryMessage",
    "Dispute",
    "ErasureJournalEntry",
    "HookAttempt",
    "HookDelivery",
    "HookEndpoint",
    "HookEvent",
    "HookSecret",
    "IdempotentRequest",
    "Passkey",
    "PasskeyChallenge",
    "Payment",
    "PasswordHistory",
    "PaymentAttempt",
    "ProcessedWebhookEvent",
    "RecoveryCode",
    "Refund",
    "SecurityNotification",
    "SsoIdentity",
    "SsoSession",
    "StaffSession",
    "StaffUser",
    "Team",
    "WorkerHeartbeat",
]
