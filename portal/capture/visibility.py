"""Who may see which capture requests: agents their own, supervisors also their team's.

Used as WHERE clauses, so a request someone may not see is simply not found (the views answer
404, and nobody learns whether another agent's request exists).
"""

from __future__ import annotations

from sqlalchemy import or_, select

from portal.capture import links
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


def find_visible(user: StaffUser, public_id: str, *options) -> CaptureRequest | None:
    """The request ``public_id`` if ``user`` may see it, else None (the caller answers 404,
    so nobody learns whether someone else's request exists). ``options``: loader options."""
    if not links.PUBLIC_ID_PATTERN.match(public_id or ""):
        return None
    return (
        db.session.execute(
            select(CaptureRequest)
            .where(CaptureRequest.public_id == public_id, visible_to(user))
            .options(*options)
        )
        .scalars()
        .unique()
        .one_or_none()
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
