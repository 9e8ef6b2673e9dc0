"""Who may see which capture requests: agents their own, supervisors also their team's.

Used as WHERE clauses, so a request someone may not see is simply not found (the views answer
404, and nobody learns whether another agent's request exists).
"""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from portal.capture import public_ids
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.staff import StaffUser
from portal.security.authz import Permission, has_permission


def visible_to(user: StaffUser):
    """A WHERE clause for the requests ``user`` may see: their own, plus their team's when
    their role may view the team's."""
    own = CaptureRequest.created_by_id == user.id
    if has_permission(user.role, Permission.CAPTURE_VIEW_TEAM) and user.team_id is not None:
        return or_(own, CaptureRequest.team_id == user.team_id)
    return own


def by_public_id(typed: str | None) -> Select:
    """A SELECT of the one request a person means by ``typed``, read the forgiving way
    (``public_ids.candidates``: any case, look-alikes, spaces; old ids exactly). Should an old
    id and a new one both match, the exact old id (10 characters, shorter) wins. Matches
    nothing when ``typed`` cannot be an id, so rubbish never reaches an index scan."""
    wanted = public_ids.candidates(typed)
    return (
        select(CaptureRequest)
        .where(CaptureRequest.public_id.in_(wanted) if wanted else CaptureRequest.id.is_(None))
        .order_by(func.length(CaptureRequest.public_id))
        .limit(1)
    )


def find_by_public_id(typed: str | None, *options) -> CaptureRequest | None:
    """The request a person means by ``typed`` (``by_public_id``), whoever may see it."""
    return db.session.execute(by_public_id(typed).options(*options)).scalars().first()


def find_visible(user: StaffUser, public_id: str, *options) -> CaptureRequest | None:
    """The request ``public_id`` (as typed or pasted: ``by_public_id``) if ``user`` may see
    it, else None (the caller answers 404, so nobody learns whether someone else's request
    exists). ``options``: loader options."""
    return (
        db.session.execute(by_public_id(public_id).where(visible_to(user)).options(*options))
        .scalars()
        .unique()
        .first()
    )


def recent_for(
    user: StaffUser, *options, team: bool = False, limit: int = 20
) -> list[CaptureRequest]:
    """The newest requests ``user`` created, or (``team``) those of their team they may see.
    ``options``: loader options."""
    if team:
        if not has_permission(user.role, Permission.CAPTURE_VIEW_TEAM) or user.team_id is None:
            return []
        clause = (CaptureRequest.team_id == user.team_id) & (
            CaptureRequest.created_by_id != user.id
        )
    else:
        clause = CaptureRequest.created_by_id == user.id
    return list(
        db.session.execute(
            select(CaptureRequest)
            .where(clause)
            .order_by(CaptureRequest.created_at.desc(), CaptureRequest.id.desc())
            .limit(limit)
            .options(*options)
        ).scalars()
    )
