"""Create, list, revoke and authenticate API keys. Knows nothing of HTTP; the caller commits.

A key acts for exactly one team. Creating and revoking are audited; a failed authentication
is not (one row per bad call would let anyone flood the trail) but is logged, without the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from portal import audit
from portal.api_keys import secret
from portal.api_keys.scopes import parse_scopes
from portal.card_numbers import contains_pan
from portal.extensions import db
from portal.i18n import N_
from portal.models.api_key import ApiKey
from portal.models.staff import StaffUser, Team
from portal.models.types import utcnow

log = logging.getLogger("postern.api_keys")

#: ``last_used_at`` is written at most this often per key: a busy integration would otherwise
#: turn every read into a write on one hot row.
LAST_USED_EVERY = timedelta(minutes=1)
NAME_LENGTH = 80


class ApiKeyError(ValueError):
    """A key cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class CreatedKey:
    """A key just created. ``text`` is the whole key: show it once, it is not kept."""

    key: ApiKey
    text: str


def create_key(
    name: str, team: Team, scopes, *, created_by: StaffUser | None, actor: audit.Actor
) -> CreatedKey:
    """A new key for ``team`` with ``scopes``, named ``name``, audited as ``actor``.
    Raises ApiKeyError for a missing or over-long name or an unknown scope."""
    name = (name or "").strip()
    if not name:
        raise ApiKeyError(N_("Give the key a name that says which system uses it."))
    if len(name) > NAME_LENGTH:
        raise ApiKeyError(f"Keep the name to {NAME_LENGTH} characters or fewer.")
    if contains_pan(name):
        raise ApiKeyError(N_("The name looks like a card number. Choose another name."))
    try:
        granted = parse_scopes(scopes)
    except ValueError as problem:
        raise ApiKeyError(str(problem)) from None
    made = secret.new_key()
    key = ApiKey(
        name=name,
        lookup_id=made.lookup_id,
        prefix=made.prefix,
        secret_hash=made.secret_hash,
        team_id=team.id,
        scopes=" ".join(granted),
        created_by_id=created_by.id if created_by is not None else None,
        created_at=utcnow(),
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        "api_key.created",
        actor=actor,
        target_type="api_key",
        target_id=key.prefix,
        details={"name": name, "team_id": team.id, "scopes": list(granted)},
    )
    return CreatedKey(key, made.text)


def all_keys() -> list[ApiKey]:
    """Every key, active first, newest first."""
    return list(
        db.session.execute(
            select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        ).scalars()
    )


def find_by_prefix(prefix: str) -> ApiKey | None:
    """The key whose displayed prefix (or lookup id) is ``prefix``."""
    prefix = (prefix or "").strip()
    lookup = prefix.removeprefix(secret.KEY_PREFIX)
    return db.session.execute(select(ApiKey).where(ApiKey.lookup_id == lookup)).scalar_one_or_none()


def revoke(key: ApiKey, *, revoked_by: StaffUser | None, actor: audit.Actor) -> None:
    """Stop the key at once, audited as ``actor``. Raises ApiKeyError if it already was."""
    now = utcnow()
    moved = db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=revoked_by.id if revoked_by else None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(key)
    if moved != 1:
        raise ApiKeyError(N_("This key was already revoked."))
    audit.record(
        "api_key.revoked",
        actor=actor,
        target_type="api_key",
        target_id=key.prefix,
        details={"name": key.name, "team_id": key.team_id},
    )


def authenticate(text: str | None) -> ApiKey | None:
    """The active key whose whole text is ``text``, or None: missing, malformed, unknown or
    revoked. Logs why a key was refused, naming at most its lookup id, never the secret."""
    if not text:
        return None
    lookup = secret.lookup_id_of(text)
    if lookup is None:
        log.warning("api key refused", extra={"reason": "malformed"})
        return None
    key = db.session.execute(select(ApiKey).where(ApiKey.lookup_id == lookup)).scalar_one_or_none()
    if key is None or not secret.matches(text, key.secret_hash):
        log.warning("api key refused", extra={"reason": "unknown", "api_key_lookup": lookup})
        return None
    if key.revoked_at is not None:
        log.warning("api key refused", extra={"reason": "revoked", "api_key_lookup": lookup})
        return None
    return key


def note_use(key: ApiKey, now: datetime | None = None) -> bool:
    """Record that ``key`` was used, at most once per ``LAST_USED_EVERY``: a conditional
    UPDATE, so any number of processes write it once a minute between them. True if written.
    Commits nothing."""
    now = now or utcnow()
    cutoff = now - LAST_USED_EVERY
    moved = db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at <= cutoff),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1
