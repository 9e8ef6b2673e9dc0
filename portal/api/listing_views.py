"""``GET /api/v1/requests``: the key's team's requests, newest first, a page at a time.

Keyset pagination on (created time, id), so a page neither skips nor repeats requests created
meanwhile: ``starting_after`` is the last id of the page before, ``cursor`` the opaque
``next_cursor`` it carried (the same thing, encoded).
"""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import and_, or_, select

from portal.api import answers, schemas
from portal.api.auth import current_key, has_scope
from portal.api.blueprint import bp, fails_with, needs_scope
from portal.api.errors import ApiError, invalid
from portal.api.lookups import request_in_team
from portal.api.requests_views import TAGS
from portal.api.serialise import capture_requests_out
from portal.api_keys.scopes import PAYMENTS_READ, REQUESTS_READ
from portal.capture.states import effective_status_filter
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.staff import StaffUser
from portal.models.types import utcnow


def _cursor_row(query: dict) -> CaptureRequest | None:
    after = query.get("starting_after")
    param = "starting_after"
    if query.get("cursor"):
        param = "cursor"
        try:
            after = base64.urlsafe_b64decode(query["cursor"].encode() + b"==").decode()
        except (binascii.Error, UnicodeDecodeError):
            raise invalid(
                "cursor", "This cursor is not one we gave: use next_cursor as it came."
            ) from None
    if not after:
        return None
    try:
        return request_in_team(after)
    except ApiError:
        raise invalid(
            param, "No request of this team has that id: pass the last id of the page before."
        ) from None


@bp.route("/requests", methods=["GET"], tags=TAGS)
@needs_scope(REQUESTS_READ)
@bp.arguments(schemas.ListQuery, location="query")
@bp.response(200, answers.CaptureRequestList)
@fails_with()
def list_requests(query: dict):
    """List capture requests

    The team's requests, newest first, a page at a time (keyset pagination: pass the last
    id as ``starting_after``, or ``next_cursor`` as ``cursor``). Filters combine.

    Needs the `requests:read` scope."""
    now = utcnow()
    statement = select(CaptureRequest).where(CaptureRequest.team_id == current_key().team_id)
    if query.get("status"):
        statement = statement.where(effective_status_filter(query["status"], now))
    if query.get("reference"):
        statement = statement.where(CaptureRequest.reference == query["reference"])
    if query.get("interaction_id"):
        statement = statement.where(CaptureRequest.interaction_id == query["interaction_id"])
    if query.get("agent"):
        statement = statement.join(StaffUser, StaffUser.id == CaptureRequest.created_by_id).where(
            StaffUser.username == query["agent"]
        )
    if query.get("created_gte"):
        statement = statement.where(CaptureRequest.created_at >= query["created_gte"])
    if query.get("created_lt"):
        statement = statement.where(CaptureRequest.created_at < query["created_lt"])
    after = _cursor_row(query)
    if after is not None:
        statement = statement.where(
            or_(
                CaptureRequest.created_at < after.created_at,
                and_(
                    CaptureRequest.created_at == after.created_at,
                    CaptureRequest.id < after.id,
                ),
            )
        )
    limit = query["limit"]
    rows = list(
        db.session.execute(
            statement.order_by(CaptureRequest.created_at.desc(), CaptureRequest.id.desc()).limit(
                limit + 1
            )
        ).scalars()
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if has_more:
        cursor = base64.urlsafe_b64encode(rows[-1].public_id.encode()).decode().rstrip("=")
    return {
        "data": capture_requests_out(rows, with_payment=has_scope(PAYMENTS_READ)),
        "has_more": has_more,
        "next_cursor": cursor,
    }
