"""The hash chain over audit rows: how a row's hash is computed and how the chain is verified.

Each row's hash is an HMAC-SHA256, keyed with ``AUDIT_CHAIN_KEY``, over the canonical JSON of its
content and the previous row's hash. Keyed, so that someone with write access to the database
but not to the application's secrets cannot forge a row and recompute the chain after it.

A row that was pending first (``portal.audit.sealer``) also carries its lane and its number in
the lane, hashed with the rest; rows from before the pending table have neither and hash as
they always did. A pending row's own HMAC (``pending_hash``) covers the same content, its lane
and number, and no link: it has none yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass

from portal.models.audit import GENESIS_HASH, AuditEvent

HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "ip",
    "user_agent",
    "details",
    "prev_hash",
)


#: What a pending row's HMAC covers: the content, and where it stands in its lane.
PENDING_HASHED_FIELDS = (
    *(field for field in HASHED_FIELDS if field not in ("seq", "prev_hash")),
    "lane",
    "lane_seq",
)
_LANE_FIELDS = ("lane", "lane_seq")


def canonical_content(event: AuditEvent) -> bytes:
    content = {field: getattr(event, field) for field in HASHED_FIELDS}
    if getattr(event, "lane", None) is not None:
        content.update({field: getattr(event, field) for field in _LANE_FIELDS})
    content["occurred_at"] = event.occurred_at.isoformat(timespec="microseconds")
    return _json(content)


def _json(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent, key: bytes) -> str:
    return hmac.new(key, canonical_content(event), hashlib.sha256).hexdigest()


def pending_hash(row, key: bytes) -> str:
    """The HMAC of a pending row (``AuditPending``, or anything with its fields): its content,
    lane and lane number. Marked "pending" so it can never pass for a chain row's hash."""
    content = {field: getattr(row, field) for field in PENDING_HASHED_FIELDS}
    content["occurred_at"] = row.occurred_at.isoformat(timespec="microseconds")
    content["pending"] = True
    return hmac.new(key, _json(content), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    #: The seq of the last row verified (None if none was): where an anchor may be written.
    last_seq: int | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.rows_checked} rows verified"
        return f"audit chain BROKEN at row seq={self.first_bad_seq}: {self.problem}"


def verify_chain(rows: Iterable[AuditEvent], key: bytes, start_seq: int = 1) -> VerifyResult:
    """Walk ``rows`` in ``seq`` order and report the first row that breaks the chain.

    Names what most likely happened: an edited row (its content no longer matches its hash), a
    deleted row (a gap in ``seq`` or a missing link), or an inserted row (an extra link whose
    hash the chain key did not produce).
    """
    expected_seq, expected_prev, checked = start_seq, None, 0
    for row in rows:
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                problem = f"rows {expected_seq}..{row.seq - 1} are missing (deleted)"
            else:
                problem = "sequence number repeats or goes backwards (inserted row)"
            return VerifyResult(False, checked, row.seq, problem)
        if expected_prev is None:
            expected_prev = row.prev_hash if start_seq > 1 else GENESIS_HASH
        if row.prev_hash != expected_prev:
            return VerifyResult(
                False,
                checked,
                row.seq,
                "does not link to the row before it (a row was deleted or inserted before it)",
            )
        if not hmac.compare_digest(row.row_hash, compute_hash(row, key)):
            return VerifyResult(
                False,
                checked,
                row.seq,
                "content does not match its hash (the row was edited, or inserted by hand)",
            )
        expected_seq, expected_prev, checked = row.seq + 1, row.row_hash, checked + 1
    return VerifyResult(True, checked, last_seq=expected_seq - 1 if checked else None)
