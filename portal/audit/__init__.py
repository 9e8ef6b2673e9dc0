"""The audit trail: record what staff, customers and the system did, and prove it was not edited."""

from portal.audit.chain import VerifyResult, verify_chain
from portal.audit.service import record

__all__ = ["VerifyResult", "record", "verify_chain"]
