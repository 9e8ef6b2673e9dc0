"""Anchoring the end of the audit chain, so that deleting its newest rows is noticed.

A hash chain proves that no row was edited, inserted or removed *before* its last row; it
cannot tell that rows were removed *after* it: a chain cut short still verifies. So the chain's
head (the newest row's ``seq`` and ``row_hash``) is anchored: written, with the time and an
HMAC seal, to ``audit_anchors`` (a table of its own, append-only on PostgreSQL) and to the JSON
log as one structured line (``postern.audit.anchor``), so that a log store outside the database
keeps a copy. ``flask audit verify`` anchors after every successful walk; ``flask audit anchor``
is the cheap one for cron: it checks only the rows added since the last anchor.

Against the newest anchor, the chain is:

- **truncated** when its newest row's ``seq`` is below the anchored one;
- **rewritten** when the row at the anchored ``seq`` is not the anchored one (rows deleted and
  the chain continued from an earlier row);
- and the anchor itself **forged** when its seal does not match.

The seal's key is derived (HKDF-SHA256) from the audit chain key, so an anchor's seal can never
be mistaken for a row hash or a retention checkpoint's seal. No anchor is written while the
chain does not verify or does not extend the last anchor: that would hide the damage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select

from portal.audit.chain import VerifyResult, verify_chain
from portal.audit.checkpoints import latest_checkpoint
from portal.audit.service import chain_key
from portal.extensions import db
from portal.models.audit import AuditAnchor, AuditEvent
from portal.models.types import utcnow

log = logging.getLogger("postern.audit.anchor")
_KEY_INFO = b"postern audit chain anchor seal v1"


def _anchor_key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(chain_key())


def seal_of(seq: int, row_hash: str, anchored_at: datetime) -> str:
    message = f"{seq}|{row_hash}|{anchored_at.isoformat()}".encode()
    return hmac.new(_anchor_key(), message, hashlib.sha256).hexdigest()


def is_genuine(anchor: AuditAnchor) -> bool:
    return hmac.compare_digest(
        anchor.seal, seal_of(anchor.seq, anchor.row_hash, anchor.anchored_at)
    )


def when(moment: datetime) -> str:
    """An anchor's time as the CLI and the log print it: 2026-12-06 18:40:12 UTC."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def latest_anchor() -> AuditAnchor | None:
    """The anchor written last (whatever its seq: a forged one must not hide behind a higher
    genuine one)."""
    return db.session.execute(
        select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class TailVerdict:
    """How the chain's end compares with the newest anchor. ``problem`` None: consistent."""

    anchor: AuditAnchor | None
    #: "truncated", "rewritten" or "forged"; None when consistent.
    kind: str | None = None
    problem: str | None = None
    #: The seq to name in a report (the anchored one).
    seq: int | None = None
    #: Rows known to be missing (at least), for "truncated".
    missing: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind is None

    def describe(self) -> str:
        return f"audit chain {self.kind.upper()}: {self.problem}" if self.kind else "consistent"


def check_tail() -> TailVerdict:
    """Compare the chain's end with the newest anchor (three small queries, no hashing)."""
    anchor = latest_anchor()
    if anchor is None:
        return TailVerdict(None)
    if not is_genuine(anchor):
        return TailVerdict(
            anchor,
            "forged",
            f"the newest anchor (seq {anchor.seq}, dated {when(anchor.anchored_at)}) was not "
            "written by Postern: its seal does not match",
            anchor.seq,
        )
    newest = db.session.execute(select(func.max(AuditEvent.seq))).scalar() or 0
    if newest < anchor.seq:
        missing = anchor.seq - newest
        return TailVerdict(
            anchor,
            "truncated",
            f"the chain ends at seq {newest} but was anchored at seq {anchor.seq} at "
            f"{when(anchor.anchored_at)}; {missing} or more rows are missing "
            "(deleted from the end)",
            anchor.seq,
            missing,
        )
    anchored = db.session.execute(
        select(AuditEvent.row_hash).where(AuditEvent.seq == anchor.seq)
    ).scalar()
    if anchored is None:
        checkpoint = latest_checkpoint()
        if checkpoint is not None and checkpoint.first_seq > anchor.seq:
            return TailVerdict(anchor)  # retention deleted it since; the checkpoint takes over
        return TailVerdict(
            anchor,
            "truncated",
            f"the row anchored at seq {anchor.seq} at {when(anchor.anchored_at)} is missing "
            "(deleted)",
            anchor.seq,
        )
    if not hmac.compare_digest(anchored, anchor.row_hash):
        return TailVerdict(
            anchor,
            "rewritten",
            f"the row at seq {anchor.seq} is not the one anchored at {when(anchor.anchored_at)}: "
            "rows from there on were deleted and the chain continued from an earlier row",
            anchor.seq,
        )
    return TailVerdict(anchor)


def verify_since_anchor(anchor: AuditAnchor) -> VerifyResult:
    """Verify the rows from the (consistent) anchored row to the end: what cron's anchor
    checks before extending it."""
    rows = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.seq >= anchor.seq)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    ).scalars()
    return verify_chain(rows, chain_key(), start_seq=anchor.seq)


def write_anchor(verified_up_to: int) -> AuditAnchor | None:
    """Anchor the chain at the row ``verified_up_to`` (the last row a walk just verified, so
    the anchor never names a row appended since and not yet checked) and log it; None when
    there is no such row (an empty chain). COMMITS.

    The caller must have established that the chain verifies up to that row and extends the
    last anchor (``check_tail``): anchoring a damaged chain would make the damage the norm.
    """
    head = db.session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).where(AuditEvent.seq == verified_up_to)
    ).first()
    if head is None:
        db.session.rollback()
        return None
    now = utcnow()
    anchor = AuditAnchor(
        seq=head.seq,
        row_hash=head.row_hash,
        anchored_at=now,
        seal=seal_of(head.seq, head.row_hash, now),
    )
    db.session.add(anchor)
    db.session.commit()
    # The external copy: a log store outside the database keeps what a DBA could delete here.
    log.info("audit chain anchored", extra=log_fields(anchor))
    return anchor


def log_fields(anchor: AuditAnchor) -> dict:
    """The anchor as its log line carries it. The hash and seal go in base64, not hex: one hex
    hash in about 500 holds a run of digits that passes for a card number, and the log's
    redaction would mask it, spoiling the very copy the line is for. In base64 such a run is
    practically impossible. PostgreSQL gives the same form with
    ``encode(decode(row_hash, 'hex'), 'base64')``."""
    return {
        "anchor_seq": anchor.seq,
        "anchor_row_hash_b64": _base64(anchor.row_hash),
        "anchored_at": anchor.anchored_at.isoformat(),
        "anchor_seal_b64": _base64(anchor.seal),
    }


def _base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
