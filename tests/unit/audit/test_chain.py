"""The audit hash chain: what verify_chain accepts and what it names as broken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.audit.chain import canonical_content, compute_hash, verify_chain
from portal.models.audit import GENESIS_HASH, AuditEvent

KEY = b"test-chain-key"


def _event(seq: int, prev_hash: str, **overrides) -> AuditEvent:
    fields = {
        "seq": seq,
        "prev_hash": prev_hash,
        "occurred_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seq),
        "actor_id": 7,
        "actor_label": "agent.amy",
        "actor_role": "agent",
        "action": "capture.created",
        "target_type": "capture_request",
        "target_id": str(100 + seq),
        "outcome": "success",
        "ip": "192.0.2.1",
        "user_agent": "pytest",
        "details": {"amount_pence": 1250 * seq, "channel": "sms"},
    }
    fields.update(overrides)
    event = AuditEvent(**fields)
    event.row_hash = compute_hash(event, KEY)
    return event


def build_chain(length: int, key: bytes = KEY) -> list[AuditEvent]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, length + 1):
        row = _event(seq, prev)
        row.row_hash = compute_hash(row, key)
        rows.append(row)
        prev = row.row_hash
    return rows


def test_an_intact_chain_verifies():
    result = verify_chain(build_chain(5), KEY)
    assert result.ok and result.rows_checked == 5 and result.first_bad_seq is None
    assert result.describe() == "audit chain intact: 5 rows verified"


def test_an_empty_chain_verifies():
    assert verify_chain([], KEY).ok


def test_the_hash_is_keyed():
    assert not verify_chain(build_chain(3), b"another key").ok
    assert not verify_chain(build_chain(3, key=b"forger"), KEY).ok


def test_the_first_row_must_link_to_genesis():
    rows = build_chain(3)
    rows[0].prev_hash = "f" * 64
    result = verify_chain(rows, KEY)
    assert not result.ok and result.first_bad_seq == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor_label", "someone.else"),
        ("actor_id", 8),
        ("action", "capture.revoked"),
        ("outcome", "failure"),
        ("target_id", "999"),
        ("details", {"amount_pence": 1, "channel": "sms"}),
        ("occurred_at", datetime(2030, 1, 1, tzinfo=UTC)),
        ("ip", None),
    ],
)
def test_an_edited_row_is_named(field, value):
    rows = build_chain(5)
    setattr(rows[2], field, value)
    result = verify_chain(rows, KEY)
    assert not result.ok
    assert result.first_bad_seq == 3 and result.rows_checked == 2
    assert "edited" in result.problem
    assert "seq=3" in result.describe()


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link_unless_rekeyed():
    rows = build_chain(5)
    rows[2].action = "auth.login"
    rows[2].row_hash = compute_hash(rows[2], b"guessed key")
    result = verify_chain(rows, KEY)
    assert not result.ok and result.first_bad_seq == 3


@pytest.mark.parametrize("deleted", [0, 2])
def test_a_deleted_row_is_named(deleted):
    rows = build_chain(5)
    del rows[deleted]
    result = verify_chain(rows, KEY)
    assert not result.ok
    assert result.first_bad_seq == deleted + 2
    assert "missing" in result.problem and f"rows {deleted + 1}..{deleted + 1}" in result.problem


def test_a_deleted_row_with_later_rows_renumbered_is_named():
    rows = build_chain(5)
    del rows[2]
    for row in rows[2:]:
        row.seq -= 1
    result = verify_chain(rows, KEY)
    assert not result.ok and result.first_bad_seq == 3
    assert "does not link" in result.problem


def test_an_inserted_row_is_named():
    rows = build_chain(5)
    forged = _event(3, rows[1].row_hash, action="refund.approved")
    forged.row_hash = compute_hash(forged, b"not the chain key")
    for row in rows[2:]:
        row.seq += 1
    rows.insert(2, forged)
    result = verify_chain(rows, KEY)
    assert not result.ok and result.first_bad_seq == 3
    assert "inserted" in result.problem


def test_a_repeated_sequence_number_is_named():
    rows = build_chain(4)
    rows.insert(2, rows[1])  # the same row appears twice
    result = verify_chain(rows, KEY)
    assert not result.ok and result.first_bad_seq == 2
    assert "repeats" in result.problem


def test_a_chain_may_be_verified_from_a_later_starting_row():
    rows = build_chain(6)
    result = verify_chain(rows[3:], KEY, start_seq=4)
    assert result.ok and result.rows_checked == 3


def test_the_canonical_content_is_stable_and_covers_every_field():
    row = _event(1, GENESIS_HASH, details={"b": 1, "a": 2})
    same = _event(1, GENESIS_HASH, details={"a": 2, "b": 1})
    assert canonical_content(row) == canonical_content(same)
    assert b'"occurred_at":"2026-01-01T00:00:01.000000+00:00"' in canonical_content(row)
    assert b"row_hash" not in canonical_content(row)
