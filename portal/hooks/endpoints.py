"""Registering and changing endpoints, replaying deliveries: the one place that does, audited.

Used alike by the back office (``portal.backoffice.webhooks``) and the CLI (``flask hooks``).
Every function joins the caller's transaction and leaves the commit to it. Audit rows name the
endpoint by id and its URL by host only: a URL's path or query may carry a token of the
buyer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select, update

from portal import audit
from portal.card_numbers import contains_pan
from portal.extensions import db
from portal.hooks import secrets
from portal.hooks.catalogue import EVENT_TYPES
from portal.hooks.events import create_test_event, forget_endpoints
from portal.hooks.queue import retry_window
from portal.hooks.safe_http import check_url, policy_for
from portal.i18n import N_
from portal.models.hooks import HookDelivery, HookDeliveryStatus, HookEndpoint
from portal.models.staff import Team
from portal.models.types import utcnow

MAX_DESCRIPTION = 200


class EndpointError(ValueError):
    """What is wrong with a change, in words for the admin; nothing was changed."""


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def _audit(action: str, endpoint: HookEndpoint, actor: audit.Actor, **details) -> None:
    audit.record(
        action,
        actor=actor,
        target_type="hook_endpoint",
        target_id=endpoint.id,
        details={"host": host_of(endpoint.url), **details},
    )


def checked_types(event_types: Iterable[str]) -> list[str]:
    chosen = sorted(set(event_types))
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown:
        raise EndpointError(f"Unknown event type: {', '.join(unknown)}. Choose from the list.")
    if not chosen:
        raise EndpointError(N_("Choose at least one event type to send."))
    return chosen


def _checked_description(description: str | None) -> str:
    text = (description or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise EndpointError(f"Keep the description to {MAX_DESCRIPTION} characters.")
    if contains_pan(text):
        raise EndpointError(N_("The description looks like it holds a card number. Remove it."))
    return text


def team_named(name: str | None) -> Team | None:
    """The team called ``name``; None for no name (every team). Raises EndpointError."""
    if not name or not name.strip():
        return None
    team = db.session.execute(select(Team).where(Team.name == name.strip())).scalar_one_or_none()
    if team is None:
        raise EndpointError(f"There is no team called {name.strip()!r}.")
    return team


def create_endpoint(
    url: str,
    event_types: Iterable[str],
    *,
    actor: audit.Actor,
    description: str = "",
    team: Team | None = None,
    created_by_id: int | None = None,
) -> tuple[HookEndpoint, str]:
    """Register an endpoint. Returns it with its signing secret in clear, to be shown once.
    Raises EndpointError or UnsafeURL (a ValueError too) with words for the admin."""
    if contains_pan(url):
        raise EndpointError(N_("The URL looks like it holds a card number. Remove it."))
    checked_url = check_url(url, policy_for(current_app.config))
    now = utcnow()
    endpoint = HookEndpoint(
        url=checked_url,
        team_id=team.id if team else None,
        description=_checked_description(description),
        event_types=checked_types(event_types),
        enabled=True,
        created_by_id=created_by_id,
        created_at=now,
        updated_at=now,
        consecutive_failures=0,
    )
    db.session.add(endpoint)
    db.session.flush()
    secret = secrets.add_secret(endpoint, now)
    _audit(
        "hooks.endpoint_created",
        endpoint,
        actor,
        event_types=endpoint.event_types,
        team_id=endpoint.team_id,
    )
    forget_endpoints()
    return endpoint, secret


def set_event_types(endpoint: HookEndpoint, event_types: Iterable[str], actor: audit.Actor) -> bool:
    """Change what ``endpoint`` subscribes to. Returns whether anything changed."""
    chosen = checked_types(event_types)
    if chosen == sorted(endpoint.event_types or []):
        return False
    before = list(endpoint.event_types or [])
    endpoint.event_types, endpoint.updated_at = chosen, utcnow()
    _audit("hooks.endpoint_updated", endpoint, actor, before=before, after=chosen)
    forget_endpoints()
    return True


def disable(endpoint: HookEndpoint, actor: audit.Actor, *, reason: str = "admin") -> bool:
    """Stop sending to ``endpoint``; what it is owed waits, and resumes if it is enabled
    again. Returns False if it was already disabled (one UPDATE decides, so two disabling at
    once audit once)."""
    now = utcnow()
    changed = db.session.execute(
        update(HookEndpoint)
        .where(HookEndpoint.id == endpoint.id, HookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(endpoint)
    if changed:
        _audit("hooks.endpoint_disabled", endpoint, actor, reason=reason)
        forget_endpoints()
    return bool(changed)


def enable(endpoint: HookEndpoint, actor: audit.Actor) -> bool:
    """Start sending again, with a clean failure count. Returns False if already enabled."""
    now = utcnow()
    changed = db.session.execute(
        update(HookEndpoint)
        .where(HookEndpoint.id == endpoint.id, HookEndpoint.enabled.is_(False))
        .values(
            enabled=True,
            disabled_reason=None,
            disabled_at=None,
            consecutive_failures=0,
            failing_since=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(endpoint)
    if changed:
        _audit("hooks.endpoint_enabled", endpoint, actor)
        forget_endpoints()
    return bool(changed)


def rotate_secret(endpoint: HookEndpoint, actor: audit.Actor) -> str:
    """A new signing secret (returned in clear, to show once); the old one keeps signing for
    ``HOOKS_ROTATION_OVERLAP_HOURS``."""
    secret = secrets.rotate(endpoint)
    _audit(
        "hooks.secret_rotated",
        endpoint,
        actor,
        overlap_hours=current_app.config["HOOKS_ROTATION_OVERLAP_HOURS"],
    )
    return secret


def replay(delivery: HookDelivery, actor: audit.Actor) -> None:
    """Send ``delivery`` again as soon as a worker is free ("Send again"): the same event id,
    so a receiver that had it already can tell. A delivery in flight now is left alone.
    Raises EndpointError if a worker holds it."""
    now = utcnow()
    changed = db.session.execute(
        update(HookDelivery)
        .where(
            HookDelivery.id == delivery.id,
            (HookDelivery.claimed_until.is_(None)) | (HookDelivery.claimed_until < now),
        )
        .values(
            status=HookDeliveryStatus.PENDING.value,
            next_attempt_at=now,
            give_up_at=now + retry_window(),
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(delivery)
    if not changed:
        raise EndpointError(N_("This delivery is being sent right now. Try again in a minute."))
    audit.record(
        "hooks.delivery_replayed",
        actor=actor,
        target_type="hook_delivery",
        target_id=delivery.id,
        details={"endpoint_id": delivery.endpoint_id, "event": delivery.event.public_id},
    )


def send_test_event(endpoint: HookEndpoint, actor: audit.Actor) -> HookDelivery:
    """Queue a test event for ``endpoint`` alone."""
    delivery = create_test_event(endpoint)
    _audit("hooks.test_event_queued", endpoint, actor, event=delivery.event.public_id)
    return delivery


def all_endpoints() -> list[HookEndpoint]:
    return list(db.session.execute(select(HookEndpoint).order_by(HookEndpoint.id)).scalars())
