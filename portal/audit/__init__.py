"""The audit trail: record what staff, customers and the system did, and prove it was not edited.

``actors`` names who acted (passed in by every caller, never looked up), ``service`` appends
rows (``record``; ``record_for`` one capture request) to ``pending``, the ``sealer`` links them
into the chain, ``trail`` reads sealed and pending rows together, ``chain`` hashes and verifies,
``chain_status`` says whether the chain verifies now (cheaply, for every back-office page),
``anchors`` records where the chain ended so that rows deleted from its end are noticed,
``checkpoints`` lets retention delete the oldest rows while the rest still verify, and
``maintenance`` is the one way to delete rows at all (as the PostgreSQL maintainer role).
"""

from portal.audit.actors import (
    ANONYMOUS,
    CLI,
    CUSTOMER,
    DELIVERY_WORKER,
    NO_ORIGIN,
    RECONCILE,
    RETENTION,
    STRIPE_WEBHOOK,
    SYSTEM,
    Actor,
    ClientOrigin,
)
from portal.audit.chain import VerifyResult, verify_chain
from portal.audit.service import record, record_for, reference

__all__ = [
    "ANONYMOUS",
    "CLI",
    "CUSTOMER",
    "DELIVERY_WORKER",
    "NO_ORIGIN",
    "RECONCILE",
    "RETENTION",
    "STRIPE_WEBHOOK",
    "SYSTEM",
    "Actor",
    "ClientOrigin",
    "VerifyResult",
    "record",
    "record_for",
    "reference",
    "verify_chain",
]
