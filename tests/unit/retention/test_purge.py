"""The purge's batching: each batch commits on its own, keyset pagination always ends, a dry
run only counts, and a request past its period goes with every row that hangs off it."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from portal.audit import Actor
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, DataSubmission
from portal.models.csp_report import CspReport
from portal.models.delivery import DeliveryAttempt, DeliveryMessage
from portal.models.hooks import HookAttempt, HookDelivery, HookEndpoint, HookEvent
from portal.models.payment import Payment, PaymentAttempt
from portal.models.refund import Refund
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from portal.retention import purge
from tests.support.capture import capture_request_row


def reports(app, n, age_days):
    with app.app_context():
        for _ in range(n):
            db.session.add(
                CspReport(received_at=utcnow() - timedelta(days=age_days), report_format="x")
            )
        db.session.commit()


def left(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CspReport))


def test_batches_commit_one_by_one_and_stop(app):
    """Proves: keyset pagination hands every due id to ``apply`` exactly once, in batches of
    at most the batch size, and stops even when ``apply`` changes nothing."""
    reports(app, 7, 91)
    reports(app, 2, 10)
    applied = []
    with app.app_context():
        ids = select(CspReport.id).where(CspReport.received_at < utcnow() - timedelta(days=90))

        def apply(batch):
            applied.append(list(batch))
            return len(batch)

        # apply changes nothing here: keyset pagination still ends after every id once.
        found, total = purge._batches(ids, CspReport.id, 3, False, apply)
    assert (found, total) == (7, 7)
    assert [len(b) for b in applied] == [3, 3, 1]


def test_a_dry_run_counts_and_changes_nothing(app):
    """Proves: a dry run reports what a real run then removes and removes nothing itself; a
    second real run finds nothing left."""
    reports(app, 5, 91)
    with app.app_context():
        report = purge.run(dry_run=True, batch_size=2, actor=Actor("test"))
    assert report.counts["csp_reports"] == {"reports": 5} and left(app) == 5
    with app.app_context():
        report = purge.run(dry_run=False, batch_size=2, actor=Actor("test"))
    assert report.counts["csp_reports"] == {"reports": 5} and left(app) == 0
    with app.app_context():
        assert purge.run(dry_run=False, batch_size=2, actor=Actor("test")).total() == 0


def _staff() -> StaffUser:
    staff = StaffUser(
        username=f"agent-{secrets.token_hex(4)}",
        display_name="Agent",
        role="agent",
        password_hash="!",
        is_active=True,
        failed_login_count=0,
        mfa_enabled=False,
    )
    db.session.add(staff)
    db.session.flush()
    return staff


def _family(staff: StaffUser, finished) -> int:
    """A finished request with one row in every table that hangs off it; returns its id."""
    request = capture_request_row(
        staff.id,
        kind="both",
        now=finished - timedelta(minutes=20),
        expires_in=timedelta(minutes=15),
        status="succeeded",
        amount_minor=1000,
        field_set="contact",
        updated_at=finished,
        finished_at=finished,
    )
    db.session.add(request)
    db.session.flush()
    payment = Payment(
        capture_request_id=request.id,
        amount_minor=1000,
        currency="GBP",
        status="succeeded",
        created_at=finished,
        updated_at=finished,
    )
    message = DeliveryMessage(
        capture_request_id=request.id,
        channel="sms",
        backend="dev",
        destination="+447700900123",
        destination_masked="+44 •••• ••0123",
        status="sent",
        created_at=finished,
        updated_at=finished,
    )
    db.session.add_all([payment, message])
    db.session.flush()
    db.session.add_all(
        [
            PaymentAttempt(
                payment_id=payment.id, provider_ref=secrets.token_hex(8), outcome="succeeded"
            ),
            Refund(
                payment_id=payment.id,
                amount_minor=100,
                currency="GBP",
                reason_code="goodwill",
                status="succeeded",
                requested_by_id=staff.id,
            ),
            DataSubmission(
                capture_request_id=request.id,
                field_set="contact",
                privacy_notice_version="2026-11",
                retention_class="personal_data",
                fields_received=["email", "phone"],
                submitted_at=finished,
                created_at=finished,
            ),
            *(
                CapturedValue(
                    capture_request_id=request.id,
                    field_name=name,
                    key_id="k1",
                    nonce=os.urandom(12),
                    ciphertext=os.urandom(32),
                    created_at=finished,
                )
                for name in ("email", "phone")
            ),
            DeliveryAttempt(
                message_id=message.id, attempt_number=1, worker="w", started_at=finished
            ),
        ]
    )
    # What outbound webhooks recorded about it: an event, its delivery and one attempt.
    endpoint = HookEndpoint(url="https://crm.example/hooks", event_types=["request.created"])
    event = HookEvent(
        public_id="evt_" + secrets.token_hex(12),
        type="request.created",
        capture_request_id=request.id,
        capture_request_public_id=request.public_id,
        occurred_at=finished,
        data={"request": {"id": request.public_id}},
    )
    db.session.add_all([endpoint, event])
    db.session.flush()
    delivery = HookDelivery(
        event_id=event.id,
        endpoint_id=endpoint.id,
        capture_request_id=request.id,
        give_up_at=finished,
        status="succeeded",
    )
    db.session.add(delivery)
    db.session.flush()
    db.session.add(
        HookAttempt(
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            started_at=finished,
            duration_ms=12,
            succeeded=True,
        )
    )
    return request.id


#: Every table that holds a row of a request's family, with the column naming its request.
FAMILY = (
    (CaptureRequest, CaptureRequest.id),
    (Payment, Payment.capture_request_id),
    (PaymentAttempt, Payment.capture_request_id),
    (Refund, Payment.capture_request_id),
    (DataSubmission, DataSubmission.capture_request_id),
    (CapturedValue, CapturedValue.capture_request_id),
    (DeliveryMessage, DeliveryMessage.capture_request_id),
    (DeliveryAttempt, DeliveryMessage.capture_request_id),
    (HookEvent, HookEvent.capture_request_id),
    (HookDelivery, HookDelivery.capture_request_id),
    (HookAttempt, HookDelivery.capture_request_id),
)


def _rows_of(request_id: int) -> dict[str, int]:
    counts = {}
    for model, request_column in FAMILY:
        query = select(func.count()).select_from(model)
        if model in (PaymentAttempt, Refund):
            query = query.join(Payment, Payment.id == model.payment_id)
        elif model is DeliveryAttempt:
            query = query.join(DeliveryMessage, DeliveryMessage.id == model.message_id)
        elif model is HookAttempt:
            query = query.join(HookDelivery, HookDelivery.id == model.delivery_id)
        counts[model.__tablename__] = db.session.scalar(query.where(request_column == request_id))
    return counts


def test_an_expired_request_goes_with_every_row_that_hangs_off_it(app):
    """Proves: a request past the payment-records period is deleted together with its payment,
    payment attempts, refunds, submission record, encrypted values, delivery messages and
    their attempts, and the outbound webhooks' events, deliveries and attempts, batch after
    batch; a recent request keeps every one of its rows."""
    now = utcnow()
    with app.app_context():
        staff = _staff()
        ancient = [_family(staff, now - timedelta(days=8 * 365)) for _ in range(3)]
        recent = _family(staff, now - timedelta(days=1))
        db.session.commit()
        assert set(_rows_of(ancient[0]).values()) == {1, 2}  # the family is all there

        report = purge.run(dry_run=False, batch_size=2, actor=Actor("test"))

        assert report.counts["payment_records"] == {"requests": 3}
        for request_id in ancient:
            assert set(_rows_of(request_id).values()) == {0}, _rows_of(request_id)
        kept = _rows_of(recent)
        assert kept[CapturedValue.__tablename__] == 2
        assert set(kept.values()) == {1, 2}


@pytest.mark.postgres
def test_postgresql_refuses_to_delete_a_request_or_payment_that_still_has_children(app):
    """Proves: the foreign keys the purge relies on (ON DELETE RESTRICT, migration 0010) still
    refuse to delete a request whose payment is there, or a payment whose refund is there."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite does not enforce foreign keys here (no PRAGMA foreign_keys)")
        request_id = _family(_staff(), utcnow() - timedelta(days=8 * 365))
        db.session.commit()
        payment_id = db.session.scalar(
            select(Payment.id).where(Payment.capture_request_id == request_id)
        )
        for statement in (
            delete(CaptureRequest).where(CaptureRequest.id == request_id),
            delete(Payment).where(Payment.id == payment_id),
        ):
            with pytest.raises(IntegrityError, match="foreign key"):
                db.session.execute(statement)
            db.session.rollback()
        assert set(_rows_of(request_id).values()) == {1, 2}


def test_webhook_events_go_once_handled_and_past_their_period_never_while_queued(app):
    """Proves: handled webhook events older than the period are purged; a recent one stays,
    and so does an old one still queued (its worker has not handled it yet)."""
    from portal.models.payment import ProcessedWebhookEvent

    old = utcnow() - timedelta(days=91)
    with app.app_context():
        for number, (outcome, handled_at) in enumerate(
            [("applied", old), ("not_ours", old), ("applied", utcnow()), ("queued", None)]
        ):
            db.session.add(
                ProcessedWebhookEvent(
                    stripe_event_id=f"evt_retention_{number}",
                    event_type="payment_intent.succeeded",
                    outcome=outcome,
                    received_at=old,
                    attempts=1,
                    handled_at=handled_at,
                )
            )
        db.session.commit()

        report = purge.run(dry_run=False, batch_size=10, actor=Actor("test"))
        kept = (
            db.session.execute(
                select(ProcessedWebhookEvent.stripe_event_id).order_by(ProcessedWebhookEvent.id)
            )
            .scalars()
            .all()
        )

    assert report.counts["webhook_events"] == {"events": 2}
    assert kept == ["evt_retention_2", "evt_retention_3"]


def test_staff_sessions_go_once_unused_for_their_period(app):
    """Proves: sessions last used longer ago than the period are deleted (with an identity
    provider's link to them); a recent one stays, ended or not."""
    from portal.models.single_sign_on import SsoIdentity, SsoSession
    from portal.models.staff import StaffSession

    now = utcnow()
    with app.app_context():
        staff = _staff()
        ages = {"old-ended": 91, "old-idle": 200, "recent-ended": 89, "live": 0}
        rows = {}
        for name, days in ages.items():
            rows[name] = StaffSession(
                token_hash=secrets.token_hex(32),
                user_id=staff.id,
                created_at=now - timedelta(days=days, hours=1),
                last_seen_at=now - timedelta(days=days),
                authenticated_at=now - timedelta(days=days, hours=1),
                ended_at=None if name in ("old-idle", "live") else now - timedelta(days=days),
                device="Chrome on Windows",
                ip_address="203.0.113.9",
            )
            db.session.add(rows[name])
        db.session.flush()
        identity = SsoIdentity(
            user_id=staff.id, provider="entra", issuer="https://login.example", subject="sub-1"
        )
        db.session.add(identity)
        db.session.flush()
        db.session.add(
            SsoSession(
                staff_session_id=rows["old-ended"].id, identity_id=identity.id, provider_sid="s1"
            )
        )
        db.session.commit()
        kept_ids = {rows["recent-ended"].id, rows["live"].id}

        report = purge.run(dry_run=False, batch_size=10, actor=Actor("test"))

        left_ids = set(db.session.execute(select(StaffSession.id)).scalars())
        links = db.session.scalar(select(func.count()).select_from(SsoSession))
    assert report.counts["staff_sessions"] == {"sessions": 2}
    assert left_ids == kept_ids and links == 0
