"""``flask retention purge``: delete or anonymise what has outlived its retention period.

One purger per data class of ``config.retention.RETENTION``:

- personal_data: captured values of requests completed longer ago than their field set's
  retention class allows are deleted; the submission record stays, marked erased.
- link_and_delivery: for final outbox messages, the destination and bodies (they carry the
  link) are emptied; the masked destination, status and attempts stay. For long-dead links,
  the identity-check hash, browser-binding hash, purpose and interaction id are emptied.
- payment_records: capture requests (with their payment, attempts, refunds, submission record
  and delivery history) completed more than 7 years ago are deleted outright.
- audit_log: audit rows older than 7 years are deleted from the start of the chain, leaving a
  sealed checkpoint so the rest still verifies (``portal.audit.checkpoints``).
- csp_reports: browsers' Content-Security-Policy violation reports older than their period
  are deleted.
- webhook_events: Stripe webhook events handled longer ago than their period are deleted
  (never one still queued for the webhook worker).
- api_idempotency: the integration API's stored answers to Idempotency-Key retries, a day on.
- staff_sessions: staff sign-in sessions (device, address) last used longer ago than their
  period are deleted, with their link to an identity provider's session; every one of them
  ended long before (idle timeout), and the audit trail keeps the sign-ins.

Every purger works in batches by ascending id (keyset pagination), each batch its own short
transaction, so live traffic keeps being served and an interrupted run simply continues next
time. Running it twice changes nothing the second time. A dry run counts without changing.

A batch is set-based: its ids are read once, then each table is changed by one statement naming
them all (on PostgreSQL as a single array parameter), so a batch costs a handful of round trips
whatever its size. What remains is the database's own work per row: deleting a request runs one
foreign-key check per table that refers to it (ON DELETE RESTRICT, migration 0010: one query
each, where NO ACTION ran two), and emptying a link writes a new version of the row into every
index of ``capture_requests``, by far the dearest step when a backlog of links is due at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    any_,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from config.retention import RETENTION, retention_period
from portal import audit
from portal.audit import Actor, checkpoints
from portal.audit.maintenance import MaintenanceRefused
from portal.extensions import db
from portal.models.api_key import IdempotentRequest
from portal.models.capture import CaptureRequest
from portal.models.captured_data import CapturedValue, DataSubmission
from portal.models.csp_report import CspReport
from portal.models.delivery import FINAL_STATUSES, DeliveryAttempt, DeliveryMessage
from portal.models.hooks import HookAttempt, HookDelivery, HookEvent
from portal.models.payment import Payment, PaymentAttempt, ProcessedWebhookEvent
from portal.models.refund import Refund
from portal.models.single_sign_on import SsoSession
from portal.models.staff import StaffSession
from portal.models.types import utcnow
from portal.personal_data.shredding import journal_erasure


@dataclass
class PurgeReport:
    dry_run: bool
    batch_size: int
    #: data class -> {what: how many}
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())


def _completed_at():
    """When a request stopped being live: its finish, or the end of its link's life."""
    return func.coalesce(CaptureRequest.finished_at, CaptureRequest.expires_at)


def _among(column, ids: list[int]) -> ColumnElement[bool]:
    """``column IN ids``. On PostgreSQL one array parameter (``= ANY(:ids)``): a short
    statement to send and parse instead of one placeholder per id."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(cast(literal(_integer_array(ids)), ARRAY(Integer)))
    return column.in_(ids)


def _integer_array(ids: list[int]) -> str:
    """``ids`` as a PostgreSQL array literal, ``{1,2,3}``. Sent as one text parameter because
    psycopg, handed a list, inspects every element to choose an array type (~15 ms for 10,000
    ids, per statement); ``int()`` keeps anything but integers out of the literal."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def _bulk(statement) -> int:
    """Execute a bulk UPDATE or DELETE; returns the rows it matched. The session holds none of
    the rows a purge touches, so it is not synchronised (with ``= ANY`` it would otherwise read
    every changed id back to find out)."""
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def _batches(
    ids_query: Select,
    id_column,
    batch_size: int,
    dry_run: bool,
    apply: Callable[[list], int | None],
) -> tuple[int, int]:
    """Run ``apply`` on the ids ``ids_query`` selects, ``batch_size`` at a time, each batch
    committed on its own. Returns (how many ids, the sum of what ``apply`` returned). A dry
    run only counts the ids."""
    if dry_run:
        count = db.session.execute(
            select(func.count()).select_from(ids_query.subquery())
        ).scalar_one()
        return count, 0
    total, affected, last_id = 0, 0, None
    while True:
        query = ids_query.order_by(id_column).limit(batch_size)
        if last_id is not None:
            query = query.where(id_column > last_id)
        ids = list(db.session.execute(query).scalars())
        if not ids:
            db.session.rollback()
            return total, affected
        affected += apply(ids) or 0
        db.session.commit()
        total += len(ids)
        last_id = ids[-1]


def _erase_values(batch: list[int]) -> int:
    """Delete the values of these requests, mark their submissions erased and journal the
    erasure (their data keys are destroyed in the key store as the batch commits, so older
    backups of the values no longer decrypt); returns how many values went."""
    deleted = _bulk(delete(CapturedValue).where(_among(CapturedValue.capture_request_id, batch)))
    journal_erasure(batch, "retention")
    _bulk(
        update(DataSubmission)
        .where(_among(DataSubmission.capture_request_id, batch), DataSubmission.erased_at.is_(None))
        .values(erased_at=utcnow())
    )
    return deleted


def purge_personal_data(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    requests = values = 0
    # Each submission names its field set's retention class; every class's period applies.
    for data_class in sorted(RETENTION):
        ids = (
            select(CaptureRequest.id)
            .join(DataSubmission, DataSubmission.capture_request_id == CaptureRequest.id)
            .where(
                DataSubmission.retention_class == data_class,
                DataSubmission.submitted_at.is_not(None),
                DataSubmission.erased_at.is_(None),
                _completed_at() < now - retention_period(data_class),
            )
        )
        if dry_run:
            values += db.session.execute(
                select(func.count())
                .select_from(CapturedValue)
                .where(CapturedValue.capture_request_id.in_(ids))
            ).scalar_one()
        found, deleted = _batches(ids, CaptureRequest.id, batch_size, dry_run, _erase_values)
        requests += found
        values += deleted
    return {"requests": requests, "values": values}


def purge_link_and_delivery(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    cutoff = now - retention_period("link_and_delivery")
    messages = select(DeliveryMessage.id).where(
        DeliveryMessage.status.in_(FINAL_STATUSES),
        DeliveryMessage.updated_at < cutoff,
        DeliveryMessage.purged_at.is_(None),
    )

    def empty_messages(batch: list[int]) -> None:
        _bulk(
            update(DeliveryMessage)
            .where(_among(DeliveryMessage.id, batch))
            .values(destination=None, sealed_link=None, purged_at=now)
        )

    links = select(CaptureRequest.id).where(
        CaptureRequest.expires_at < cutoff,
        or_(
            CaptureRequest.identity_hash.is_not(None),
            CaptureRequest.bound_secret_hash.is_not(None),
            CaptureRequest.purpose.is_not(None),
            CaptureRequest.interaction_id.is_not(None),
        ),
    )

    def anonymise_links(batch: list[int]) -> None:
        _bulk(
            update(CaptureRequest)
            .where(_among(CaptureRequest.id, batch))
            .values(identity_hash=None, bound_secret_hash=None, purpose=None, interaction_id=None)
        )

    return {
        "messages": _batches(messages, DeliveryMessage.id, batch_size, dry_run, empty_messages)[0],
        "links": _batches(links, CaptureRequest.id, batch_size, dry_run, anonymise_links)[0],
    }


def _delete_requests(batch: list[int]) -> None:
    """Delete requests and everything hanging off them, children first: the foreign keys
    refuse to orphan a row, and SQLite does not enforce ON DELETE CASCADE unless asked, so
    nothing relies on it."""
    payments = select(Payment.id).where(_among(Payment.capture_request_id, batch))
    messages = select(DeliveryMessage.id).where(_among(DeliveryMessage.capture_request_id, batch))
    # Values not erased yet go with their data keys, as in purge_personal_data.
    with_values = select(DataSubmission.capture_request_id).where(
        _among(DataSubmission.capture_request_id, batch),
        DataSubmission.submitted_at.is_not(None),
        DataSubmission.erased_at.is_(None),
    )
    journal_erasure(db.session.execute(with_values).scalars(), "retention")
    events = select(HookEvent.id).where(_among(HookEvent.capture_request_id, batch))
    hook_deliveries = select(HookDelivery.id).where(HookDelivery.event_id.in_(events))
    for statement in (
        # Outbound webhooks' record of the requests (portal.hooks): attempts, deliveries, events.
        delete(HookAttempt).where(HookAttempt.delivery_id.in_(hook_deliveries)),
        delete(HookDelivery).where(HookDelivery.event_id.in_(events)),
        delete(HookEvent).where(_among(HookEvent.capture_request_id, batch)),
        delete(Refund).where(Refund.payment_id.in_(payments)),
        delete(PaymentAttempt).where(PaymentAttempt.payment_id.in_(payments)),
        delete(Payment).where(_among(Payment.capture_request_id, batch)),
        delete(CapturedValue).where(_among(CapturedValue.capture_request_id, batch)),
        delete(DataSubmission).where(_among(DataSubmission.capture_request_id, batch)),
        delete(DeliveryAttempt).where(DeliveryAttempt.message_id.in_(messages)),
        delete(DeliveryMessage).where(_among(DeliveryMessage.capture_request_id, batch)),
        delete(CaptureRequest).where(_among(CaptureRequest.id, batch)),
    ):
        _bulk(statement)


def purge_payment_records(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    cutoff = now - retention_period("payment_records")
    ids = select(CaptureRequest.id).where(_completed_at() < cutoff)
    found, _ = _batches(ids, CaptureRequest.id, batch_size, dry_run, _delete_requests)
    return {"requests": found}


def purge_audit_log(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    cutoff = now - retention_period("audit_log")
    if dry_run:
        return {"rows": checkpoints.count_due(cutoff)}
    total = 0
    while deleted := checkpoints.trim_batch(cutoff, batch_size):
        total += deleted
    return {"rows": total}


def purge_csp_reports(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    cutoff = now - retention_period("csp_reports")
    ids = select(CspReport.id).where(CspReport.received_at < cutoff)

    def remove(batch: list[int]) -> None:
        _bulk(delete(CspReport).where(_among(CspReport.id, batch)))

    found, _ = _batches(ids, CspReport.id, batch_size, dry_run, remove)
    return {"reports": found}


def purge_webhook_events(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    cutoff = now - retention_period("webhook_events")
    # Handled only: an event still queued (Stripe unreachable for long) waits for its worker.
    # Events handled before the inbox kept ``handled_at`` count from their arrival.
    handled = func.coalesce(ProcessedWebhookEvent.handled_at, ProcessedWebhookEvent.received_at)
    ids = select(ProcessedWebhookEvent.id).where(
        ProcessedWebhookEvent.outcome != "queued", handled < cutoff
    )

    def remove(batch: list[int]) -> None:
        _bulk(delete(ProcessedWebhookEvent).where(_among(ProcessedWebhookEvent.id, batch)))

    found, _ = _batches(ids, ProcessedWebhookEvent.id, batch_size, dry_run, remove)
    return {"events": found}


def purge_api_idempotency(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    """The API's stored answers to Idempotency-Key retries, a day after their request."""
    cutoff = now - retention_period("api_idempotency")
    ids = select(IdempotentRequest.id).where(IdempotentRequest.created_at < cutoff)

    def remove(batch: list[int]) -> None:
        _bulk(delete(IdempotentRequest).where(_among(IdempotentRequest.id, batch)))

    found, _ = _batches(ids, IdempotentRequest.id, batch_size, dry_run, remove)
    return {"idempotency_keys": found}


def purge_staff_sessions(now: datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    cutoff = now - retention_period("staff_sessions")
    ids = select(StaffSession.id).where(StaffSession.last_seen_at < cutoff)

    def remove(batch: list[int]) -> None:
        _bulk(delete(SsoSession).where(_among(SsoSession.staff_session_id, batch)))
        _bulk(delete(StaffSession).where(_among(StaffSession.id, batch)))

    found, _ = _batches(ids, StaffSession.id, batch_size, dry_run, remove)
    return {"sessions": found}


#: Whole records past their period go first, so the later classes do not anonymise rows that
#: are about to be deleted anyway.
#: The audit log last: a trim refused (the login may not, or the chain does not start where
#: retention left it) stops the purge, and must not keep the other classes past their period.
PURGERS: dict[str, Callable[[datetime, int, bool], dict[str, int]]] = {
    "payment_records": purge_payment_records,
    "personal_data": purge_personal_data,
    "link_and_delivery": purge_link_and_delivery,
    "csp_reports": purge_csp_reports,
    "webhook_events": purge_webhook_events,
    "api_idempotency": purge_api_idempotency,
    "staff_sessions": purge_staff_sessions,
    "audit_log": purge_audit_log,
}


def run(
    *, dry_run: bool, batch_size: int, actor: Actor, now: datetime | None = None
) -> PurgeReport:
    """Purge every data class past its period (or count what would go, ``dry_run``).

    Returns the counts per class. Audits ``retention.purge`` with them (a dry run too, marked
    so). COMMITS, batch by batch. Raises ``MaintenanceRefused`` if the audit log may not be
    trimmed, once the other classes are purged and the row says so.
    """
    now = now or utcnow()
    report = PurgeReport(dry_run=dry_run, batch_size=batch_size)
    refused = None
    for data_class, purger in PURGERS.items():
        try:
            report.counts[data_class] = purger(now, batch_size, dry_run)
        except MaintenanceRefused as problem:  # the audit log's trim, last: the rest is done
            refused = problem
    db.session.rollback()
    details = {"dry_run": dry_run, "batch_size": batch_size, "counts": report.counts}
    if refused is not None:
        details["refused"] = "audit_log"
    audit.record(
        "retention.purge",
        target_type="retention",
        details=details,
        outcome="success" if refused is None else "failure",
        actor=actor,
    )
    db.session.commit()
    if refused is not None:
        raise refused  # after the row: what was purged is in the trail either way
    return report
