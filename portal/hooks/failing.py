"""An endpoint that keeps failing is disabled, audited, and its team's admins are told.

"Keeps failing": at least ``HOOKS_DISABLE_AFTER_FAILURES`` attempts failed in a row, the first
of them at least ``HOOKS_DISABLE_AFTER_HOURS`` ago (a short outage at the buyer's end, however
many attempts it fails, does not disable anything). What the endpoint is owed waits and is
sent once an admin enables it again.

The admins hear of it through the security notifications (``portal.models.security_notification``,
kind ``webhook_endpoint_disabled``): an email per admin through the outbox, the same way as the
other notices (``portal.delivery.staff_notices``), to the admins of the endpoint's team, or to
every admin when the endpoint serves every team or its team has none with an email address.
The back office's webhooks page shows the endpoint as disabled, with why.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.delivery.staff_notices import queue_staff_notice
from portal.extensions import db
from portal.hooks import endpoints
from portal.models.hooks import HookEndpoint
from portal.models.security_notification import NotificationKind, SecurityNotification
from portal.models.staff import StaffUser
from portal.security.authz import Role
from portal.security_alerts.notify import admin_addresses

log = logging.getLogger("postern.hooks.failing")
#: Who disables a failing endpoint, in the audit trail.
HOOKS_WORKER = audit.Actor("hooks-worker")
_SEQUENCE_TRIES = 5


def disable_if_failing(endpoint_id: int, now: datetime) -> bool:
    """Disable endpoint ``endpoint_id`` if its run of failures is long enough; joins the
    caller's transaction (the caller commits). Returns whether this call disabled it."""
    endpoint = db.session.get(HookEndpoint, endpoint_id, populate_existing=True)
    config = current_app.config
    long_enough = endpoint.failing_since is not None and (
        now - endpoint.failing_since >= timedelta(hours=config["HOOKS_DISABLE_AFTER_HOURS"])
    )
    if not (
        endpoint.enabled
        and long_enough
        and endpoint.consecutive_failures >= config["HOOKS_DISABLE_AFTER_FAILURES"]
    ):
        return False
    if not endpoints.disable(endpoint, HOOKS_WORKER, reason="failing"):
        return False
    log.warning(
        "webhook endpoint %s disabled after %s failed attempts in a row",
        endpoint.id,
        endpoint.consecutive_failures,
    )
    _tell_admins(endpoint, now)
    return True


def _team_admin_addresses(team_id: int | None) -> list[str]:
    if team_id is None:
        return admin_addresses()
    found = [
        email
        for email in db.session.execute(
            select(StaffUser.email).where(
                StaffUser.is_active.is_(True),
                StaffUser.role == Role.ADMIN,
                StaffUser.team_id == team_id,
            )
        ).scalars()
        if email and email.strip()
    ]
    return found or admin_addresses()


def _tell_admins(endpoint: HookEndpoint, now: datetime) -> None:
    kind = NotificationKind.WEBHOOK_ENDPOINT_DISABLED.value
    for _ in range(_SEQUENCE_TRIES):
        newest = db.session.execute(
            select(func.max(SecurityNotification.sequence)).where(SecurityNotification.kind == kind)
        ).scalar()
        notification = SecurityNotification(
            kind=kind,
            sequence=(newest or 0) + 1,
            created_at=now,
            window_started_at=endpoint.failing_since or now,
            window_ended_at=now,
            event_count=endpoint.consecutive_failures,
            counted_until=now,
            details={"endpoint_id": endpoint.id, "host": endpoints.host_of(endpoint.url)},
            page_path=f"/backoffice/webhooks/{endpoint.id}",
            recipients=0,
        )
        try:
            with db.session.begin_nested():
                db.session.add(notification)
        except IntegrityError:
            continue
        queued = [
            queue_staff_notice(notification, address)
            for address in _team_admin_addresses(endpoint.team_id)
        ]
        notification.recipients = sum(1 for message in queued if message is not None)
        audit.record(
            "security.notification_queued",
            actor=HOOKS_WORKER,
            target_type="security_notification",
            target_id=notification.id,
            details={"kind": kind, "recipients": notification.recipients},
        )
        return
    log.error("webhook endpoint %s disabled, but no admin could be told", endpoint.id)
