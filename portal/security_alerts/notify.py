"""Deciding, once across every process, whether a notification is sent now, and sending it.

At most one notification per kind per ``ALERTS_THROTTLE_MINUTES``:

- A burst (lockouts, identity-check locks, payment-page CSP reports) is sent when at least its
  threshold of events fell within ``ALERTS_WINDOW_MINUTES`` and some of them are new (not
  counted by the previous notification). During the throttle window that follows, each check
  adds the new events to the previous notification's ``held_back_count`` (one conditional
  UPDATE, so two processes never count the same events twice); once the window is over, the
  next check sends a notification that reports them, whether or not a burst is still going
  on, so nothing held back goes unreported.
- A state (a broken audit chain, a silent worker) is sent while it holds, again at most once
  per throttle window: a reminder while it lasts.

Which process sends the next notification of a kind is decided by the database: each is
numbered (``sequence``) and ``(kind, sequence)`` is unique, so of two processes that decide at
once, one inserts and the other's insert fails and sends nothing. The notification, its
outbox messages (one per admin) and its audit row are one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.delivery.staff_notices import queue_staff_notice
from portal.extensions import db
from portal.models.security_notification import SecurityNotification
from portal.models.staff import StaffUser
from portal.security.authz import Role
from portal.security_alerts.conditions import Burst, State

log = logging.getLogger("postern.security_alerts")

QUIET, HELD_BACK, SENT, TAKEN = "quiet", "held back", "sent", "sent by another process"


@dataclass(frozen=True)
class Outcome:
    kind: str
    result: str
    notification_id: int | None = None
    recipients: int = 0

    def describe(self) -> str:
        if self.result == SENT:
            sent = f"notification {self.notification_id} queued for {self.recipients} admin(s)"
            return f"{self.kind}: {sent}"
        return f"{self.kind}: {self.result}"


def admin_addresses() -> list[str]:
    """Email addresses of active admins that have one: the only recipients."""
    return [
        email
        for email in db.session.execute(
            select(StaffUser.email)
            .where(StaffUser.is_active.is_(True), StaffUser.role == Role.ADMIN)
            .order_by(StaffUser.id)
        ).scalars()
        if email and email.strip()
    ]


def _newest(kind: str) -> SecurityNotification | None:
    return db.session.execute(
        select(SecurityNotification)
        .where(SecurityNotification.kind == kind)
        .order_by(SecurityNotification.sequence.desc())
        .limit(1)
    ).scalar_one_or_none()


def _throttled(newest: SecurityNotification | None, now: datetime) -> bool:
    window = timedelta(minutes=current_app.config["ALERTS_THROTTLE_MINUTES"])
    return newest is not None and now < newest.created_at + window


def check_burst(burst: Burst, now: datetime, actor: audit.Actor) -> Outcome:
    config = current_app.config
    window_start = now - timedelta(minutes=config["ALERTS_WINDOW_MINUTES"])
    newest = _newest(burst.kind)
    if _throttled(newest, now):
        fresh = burst.count(newest.counted_until, now) if newest.counted_until < now else 0
        if fresh:
            db.session.execute(
                update(SecurityNotification)
                .where(
                    SecurityNotification.id == newest.id,
                    SecurityNotification.counted_until == newest.counted_until,
                )
                .values(
                    held_back_count=SecurityNotification.held_back_count + fresh,
                    counted_until=now,
                )
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        return Outcome(burst.kind, HELD_BACK if fresh or newest.held_back_count else QUIET)
    since = max(window_start, newest.counted_until) if newest else window_start
    in_window = burst.count(window_start, now)
    fresh = burst.count(since, now) if since < now else 0
    suppressed = newest.held_back_count if newest else 0
    threshold = int(config[burst.threshold_setting])
    if not ((in_window >= threshold and fresh) or suppressed):
        db.session.rollback()
        return Outcome(burst.kind, QUIET)
    details = {
        **burst.details(since, now),
        "threshold": threshold,
        "minutes": config["ALERTS_WINDOW_MINUTES"],
    }
    return _send(burst.kind, newest, now, since, fresh, suppressed, details, burst.page_path, actor)


def check_state(state: State, now: datetime, actor: audit.Actor) -> Outcome:
    if not state.count:
        db.session.rollback()
        return Outcome(state.kind, QUIET)
    newest = _newest(state.kind)
    if _throttled(newest, now):
        db.session.rollback()
        return Outcome(state.kind, HELD_BACK)
    return _send(
        state.kind, newest, now, now, state.count, 0, state.details, state.page_path, actor
    )


def _send(
    kind: str,
    newest: SecurityNotification | None,
    now: datetime,
    since: datetime,
    count: int,
    suppressed: int,
    details: dict,
    page_path: str,
    actor: audit.Actor,
) -> Outcome:
    """Insert the next notification of ``kind``, queue it for every admin, audit it, commit.
    Returns TAKEN (and sends nothing) when another process inserted that number first."""
    notification = SecurityNotification(
        kind=kind,
        sequence=(newest.sequence + 1) if newest else 1,
        created_at=now,
        window_started_at=since,
        window_ended_at=now,
        event_count=count,
        suppressed_count=suppressed,
        held_back_count=0,
        counted_until=now,
        details=details,
        page_path=page_path,
        recipients=0,
    )
    try:
        with db.session.begin_nested():
            db.session.add(notification)
    except IntegrityError:
        db.session.rollback()
        return Outcome(kind, TAKEN)
    queued = [queue_staff_notice(notification, address) for address in admin_addresses()]
    notification.recipients = sum(1 for message in queued if message is not None)
    audit.record(
        "security.notification_queued",
        actor=actor,
        target_type="security_notification",
        target_id=notification.id,
        details={
            "kind": kind,
            "sequence": notification.sequence,
            "events": count,
            "held_back_before": suppressed,
            "recipients": notification.recipients,
        },
    )
    db.session.commit()
    if not notification.recipients:
        log.warning(
            "security notification %s reached no admin: none has an email address, or email "
            "is switched off",
            kind,
        )
    return Outcome(kind, SENT, notification.id, notification.recipients)
