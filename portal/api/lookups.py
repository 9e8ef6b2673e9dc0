"""Finding what an API call names, within the calling key's team: a capture request (another
team's answers 404, like a missing one, so nobody learns it exists) and the agent who owns a
new request."""

from __future__ import annotations

from sqlalchemy import select

from portal.api.auth import current_key
from portal.api.errors import invalid, not_found
from portal.capture.visibility import by_public_id
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.staff import StaffUser
from portal.security.authz import Permission, has_permission


def agent_of_team(username: str) -> StaffUser:
    """The active staff member ``username`` of the key's team who may create requests."""
    agent = db.session.execute(
        select(StaffUser).where(StaffUser.username == username)
    ).scalar_one_or_none()
    if agent is None or not agent.is_active or agent.team_id != current_key().team_id:
        raise invalid(
            "agent",
            f"No active staff member {username!r} in this API key's team. Give the Postern "
            "username of the agent on the call.",
            "agent_unknown",
        )
    if not has_permission(agent.role, Permission.CAPTURE_CREATE):
        raise invalid(
            "agent",
            f"{username!r} cannot create requests (their role is {agent.role}). Name an agent "
            "or a supervisor.",
            "agent_not_allowed",
        )
    return agent


def request_in_team(request_id: str) -> CaptureRequest:
    """The key's team's request ``request_id``, read as people type ids (any case, hyphens
    optional: ``visibility.by_public_id``), or 404 (the same for another team's)."""
    found = db.session.execute(
        by_public_id(request_id).where(CaptureRequest.team_id == current_key().team_id)
    ).scalar_one_or_none()
    if found is None:
        raise not_found()
    return found
