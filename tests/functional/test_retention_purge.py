"""``flask retention purge`` on more than 100,000 generated rows: counts per data class, a dry
run that changes nothing, batches that each commit on their own, an idempotent second run,
what stays (masked history, non-personal records) and an audit chain that still verifies."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, select

from portal import audit
from portal.audit.chain import HASHED_FIELDS, compute_hash
from portal.capture.links import new_public_id
from portal.extensions import db
from portal.models.audit import GENESIS_HASH, AuditEvent
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, DataSubmission
from portal.models.csp_report import CspReport
from portal.models.delivery import DeliveryMessage
from portal.models.payment import Payment
from portal.models.staff import StaffUser
from portal.models.types import utcnow

OLD_AUDIT = 60_000
PERSONAL = 10_000  # requests completed 40 days ago, each with a submission and 2 values
ANCIENT = 2_000  # requests (with a payment) completed 8 years ago
MESSAGES = 10_000  # final outbox messages last touched 100 days ago
CSP = 1_000
RECENT = 500  # requests completed yesterday: nothing of theirs may go


def _audit_rows(key: bytes, start: object) -> list[dict]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, OLD_AUDIT + 1):
        row = AuditEvent(
            seq=seq,
            occurred_at=start + timedelta(seconds=seq),
            actor_id=None,
            actor_label="system",
            actor_role=None,
            action="generated.event",
            target_type=None,
            target_id=str(seq),
            outcome="success",
            ip=None,
            user_agent=None,
            details={"n": seq},
            prev_hash=prev,
        )
        row.row_hash = prev = compute_hash(row, key)
        rows.append({c: getattr(row, c) for c in (*_AUDIT_COLUMNS, "row_hash")})
    return rows


_AUDIT_COLUMNS = HASHED_FIELDS


def _request(staff_id: int, finished, kind="data") -> dict:
    return {
        "public_id": new_public_id(),  # as the product makes them
        "kind": kind,
        "status": "succeeded",
        "created_by_id": staff_id,
        "field_set": "contact" if kind == "data" else None,
        "purpose": "Generated purpose",
        "reference": "GEN-1",
        "interaction_id": "CALL-1",
        "identity_item": "postcode",
        "identity_hash": "ab" * 32,
        "readback_code": "1234",
        "link_nonce_hash": secrets.token_hex(32),
        "link_issued_at": finished - timedelta(minutes=20),
        "expires_at": finished - timedelta(minutes=5),
        "created_at": finished - timedelta(minutes=20),
        "updated_at": finished,
        "finished_at": finished,
        "amount_minor": 1000 if kind == "payment" else None,
        "currency": "GBP" if kind == "payment" else None,
    }


def _ids_of(public_ids: list[str]) -> list[int]:
    return list(
        db.session.execute(
            select(CaptureRequest.id)
            .where(CaptureRequest.public_id.in_(public_ids))
            .order_by(CaptureRequest.id)
        ).scalars()
    )


def generate(app) -> dict[str, int]:
    """Insert the rows (Core bulk inserts, a few transactions); returns how many per table."""
    from portal.audit.service import chain_key

    now = utcnow()
    with app.app_context():
        db.session.execute(insert(AuditEvent), _audit_rows(chain_key(), now - timedelta(days=3000)))
        db.session.commit()
        staff = StaffUser(
            username="generator",
            display_name="Generator",
            role="agent",
            password_hash="!",
            is_active=True,
            failed_login_count=0,
            mfa_enabled=False,
        )
        db.session.add(staff)
        db.session.commit()
        groups = {
            "personal": [_request(staff.id, now - timedelta(days=40)) for _ in range(PERSONAL)],
            "ancient": [
                _request(staff.id, now - timedelta(days=8 * 365), "payment") for _ in range(ANCIENT)
            ],
            "recent": [_request(staff.id, now - timedelta(days=1)) for _ in range(RECENT)],
        }
        for rows in groups.values():
            db.session.execute(insert(CaptureRequest), rows)
        db.session.commit()
        data_ids = _ids_of([r["public_id"] for r in groups["personal"] + groups["recent"]])
        ancient_ids = _ids_of([r["public_id"] for r in groups["ancient"]])
        db.session.execute(
            insert(DataSubmission),
            [
                {
                    "capture_request_id": i,
                    "field_set": "contact",
                    "privacy_notice_version": "2026-11",
                    "retention_class": "personal_data",
                    "fields_received": ["email", "phone"],
                    "submitted_at": now - timedelta(days=41),
                    "created_at": now - timedelta(days=41),
                }
                for i in data_ids
            ],
        )
        db.session.execute(
            insert(CapturedValue),
            [
                {
                    "capture_request_id": i,
                    "field_name": name,
                    "key_id": "k1",
                    "nonce": os.urandom(12),
                    "ciphertext": os.urandom(32),
                    "created_at": now - timedelta(days=41),
                }
                for i in data_ids
                for name in ("email", "phone")
            ],
        )
        db.session.execute(
            insert(Payment),
            [
                {
                    "capture_request_id": i,
                    "amount_minor": 1000,
                    "currency": "GBP",
                    "status": "succeeded",
                    "card_brand": "visa",
                    "card_last4": "4242",
                    "created_at": now - timedelta(days=8 * 365),
                    "updated_at": now - timedelta(days=8 * 365),
                }
                for i in ancient_ids
            ],
        )
        old = now - timedelta(days=100)
        db.session.execute(
            insert(DeliveryMessage),
            [
                {
                    "capture_request_id": data_ids[n % len(data_ids)],
                    "channel": "sms",
                    "backend": "dev",
                    "destination": "+447700900123",
                    "destination_masked": "+44 •••• ••0123",
                    "sealed_link": "k1:c2VhbGVk",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": old,
                    "updated_at": old,
                }
                for n in range(MESSAGES)
            ],
        )
        db.session.execute(
            insert(CspReport),
            [
                {"received_at": now - timedelta(days=120), "report_format": "csp-report"}
                for _ in range(CSP)
            ],
        )
        # Today's activity: the chain goes on after the old rows.
        audit.record("generated.recent", actor=audit.SYSTEM)
        db.session.commit()
        counts = {
            "audit": OLD_AUDIT,
            "requests": PERSONAL + ANCIENT + RECENT,
            "submissions": len(data_ids),
            "values": 2 * len(data_ids),
            "payments": ANCIENT,
            "messages": MESSAGES,
            "csp": CSP,
        }
    assert sum(counts.values()) >= 100_000
    return counts


def count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


@pytest.fixture
def generated(app):
    return generate(app)


def test_purge_of_more_than_100k_rows(app, generated):
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["retention", "purge", "--dry-run"])

    assert dry.exit_code == 0, dry.output
    assert "personal_data      (kept  30 days) would purge: requests=10000, values=20000" in (
        dry.output
    )
    assert "payment_records    (kept  7 years) would purge: requests=2000" in dry.output
    assert "audit_log          (kept  7 years) would purge: rows=60000" in dry.output
    assert "csp_reports        (kept  90 days) would purge: reports=1000" in dry.output
    with app.app_context():
        assert count(CapturedValue) == generated["values"]  # a dry run changes nothing
        assert count(AuditEvent, AuditEvent.action == "generated.event") == OLD_AUDIT

    commits = []
    with app.app_context():
        event.listen(db.engine, "commit", lambda conn: commits.append(1))
    result = runner.invoke(args=["retention", "purge", "--batch-size", "2000"])

    assert result.exit_code == 0, result.output
    lines = result.output
    assert "personal_data      (kept  30 days) purged: requests=10000, values=20000" in lines
    assert "link_and_delivery  (kept  90 days) purged: messages=10000, links=0" in lines
    assert "payment_records    (kept  7 years) purged: requests=2000" in lines
    assert "audit_log          (kept  7 years) purged: rows=60000" in lines
    assert "csp_reports        (kept  90 days) purged: reports=1000" in lines
    # Each batch committed on its own: 5 + 5 + 1 + 30 + 1 batches at least, not one transaction.
    assert len(commits) >= 42
    with app.app_context():
        assert count(CapturedValue) == 2 * RECENT  # yesterday's values stay
        assert count(DataSubmission, DataSubmission.erased_at.is_not(None)) == PERSONAL
        assert count(DataSubmission) == PERSONAL + RECENT  # the non-personal records stay
        assert count(CaptureRequest) == PERSONAL + RECENT and count(Payment) == 0
        assert count(DeliveryMessage, DeliveryMessage.destination.is_not(None)) == 0
        assert count(DeliveryMessage, DeliveryMessage.sealed_link.is_not(None)) == 0
        assert count(DeliveryMessage, DeliveryMessage.destination_masked.like("+44%")) == MESSAGES
        assert count(CspReport) == 0
        assert count(AuditEvent, AuditEvent.action == "generated.event") == 0
        [run] = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "retention.purge",
                AuditEvent.details["dry_run"].as_boolean() == False,  # noqa: E712
            )
        ).scalars()
        assert run.details["counts"]["audit_log"] == {"rows": 60000}
        assert run.details["counts"]["personal_data"] == {"requests": 10000, "values": 20000}
        assert run.actor_label == "retention"

    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "audit chain intact" in verified.output, verified.output

    again = runner.invoke(args=["retention", "purge"])
    assert again.exit_code == 0
    assert "done: 0 item(s)" in again.output  # idempotent
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_links_past_their_period_lose_identity_and_free_text(app):
    now = utcnow()
    with app.app_context():
        staff = StaffUser(
            username="g2",
            display_name="G2",
            role="agent",
            password_hash="!",
            is_active=True,
            failed_login_count=0,
            mfa_enabled=False,
        )
        db.session.add(staff)
        db.session.commit()
        row = _request(staff.id, now - timedelta(days=95), kind="payment")
        db.session.execute(insert(CaptureRequest), [row])
        db.session.commit()

    result = app.test_cli_runner().invoke(args=["retention", "purge"])

    assert "links=1" in result.output
    with app.app_context():
        kept = db.session.execute(select(CaptureRequest)).scalar_one()
        assert (kept.identity_hash, kept.purpose, kept.interaction_id) == (None, None, None)
        assert kept.reference == "GEN-1" and kept.amount_minor == 1000  # the payment record stays


def test_a_refused_audit_trim_comes_after_every_other_class_and_is_in_the_trail(app):
    """Proves: when the audit log may not be trimmed (here its start was deleted by hand, so
    no genuine checkpoint names it), the purge still empties every other class past its period
    first, records ``retention.purge`` with what it did and what was refused, and exits 1."""
    from sqlalchemy import delete, text

    from tests.support.audit_rows import date_back_audit_rows

    with app.app_context():
        db.session.execute(
            insert(CspReport),
            [{"received_at": utcnow() - timedelta(days=120), "report_format": "csp-report"}],
        )
        for n in range(3):
            audit.record("old.event", details={"n": n}, actor=audit.SYSTEM)
        db.session.commit()
        date_back_audit_rows(through_seq=2)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL postern.audit_maintenance = 'on'"))
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 1))
        db.session.commit()

    result = app.test_cli_runner().invoke(args=["retention", "purge"])

    assert result.exit_code == 1
    assert "does not start where retention left it" in result.output
    with app.app_context():
        assert count(CspReport) == 0
        assert count(AuditEvent) == 3  # rows 2 and 3 kept, and the purge's own row
        row = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "retention.purge")
        ).one()
        assert (row.outcome, row.details["refused"]) == ("failure", "audit_log")
        assert row.details["counts"]["csp_reports"] == {"reports": 1}
        assert "audit_log" not in row.details["counts"]
