"""The challenges of WebAuthn ceremonies, kept on the server: random, single-use, short-lived.

``issue`` makes a fresh 32-byte challenge and stores it with its purpose (and whose ceremony it
is); the browser's cookie carries only a random token naming it. ``take`` deletes the row as it
reads it (one statement, so two requests racing with the same token cannot both get it), which
makes each challenge good for one answer only, on any app process.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete

from portal.extensions import db
from portal.models.passkey import PasskeyChallenge
from portal.models.types import utcnow

#: How long a ceremony may take: the browser's own timeout is one minute; a little slack.
LIFETIME = timedelta(minutes=2)
#: "reauth": confirming it is you before a sensitive action (``portal.staff.reauth``).
PURPOSES = frozenset({"register", "second_factor", "sign_in", "reauth"})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    token: str
    challenge: bytes


@dataclass(frozen=True)
class Taken:
    challenge: bytes
    user_id: int | None


def issue(purpose: str, user_id: int | None) -> Issued:
    """A new challenge for ``purpose`` (one of PURPOSES); expired ones are swept on the way.
    Caller commits and gives ``token`` to the browser (in the session cookie)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown passkey ceremony {purpose!r}")
    now = utcnow()
    db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    token, challenge = secrets.token_urlsafe(32), secrets.token_bytes(32)
    db.session.add(
        PasskeyChallenge(
            token_hash=_hash(token),
            purpose=purpose,
            challenge=challenge,
            user_id=user_id,
            expires_at=now + LIFETIME,
        )
    )
    return Issued(token, challenge)


def take(token: str | None, purpose: str) -> Taken | None:
    """The challenge named by ``token`` for ``purpose``, deleted as it is read; None if there
    is none, it has expired, was made for another ceremony or was used already. Caller
    commits (the deletion stands even when the answer then fails: a challenge is never
    tried twice)."""
    if not isinstance(token, str) or not token:
        return None
    row = db.session.execute(
        delete(PasskeyChallenge)
        .where(PasskeyChallenge.token_hash == _hash(token))
        .returning(
            PasskeyChallenge.challenge,
            PasskeyChallenge.user_id,
            PasskeyChallenge.purpose,
            PasskeyChallenge.expires_at,
        )
    ).one_or_none()
    if row is None or row.purpose != purpose or row.expires_at <= utcnow():
        return None
    return Taken(row.challenge, row.user_id)
