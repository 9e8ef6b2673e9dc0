"""The audit trail: record what staff, customers and the system did, and prove it was not edited.

``service`` appends rows, ``chain`` hashes and verifies them, ``chain_status`` says whether the
chain verifies now (cheaply, for every back-office page), and ``checkpoints`` lets retention
delete the oldest rows while the rest still verify.
"""

from portal.audit.chain import VerifyResult, verify_chain
from portal.audit.service import record

__all__ = ["VerifyResult", "record", "verify_chain"]
