"""The agent's own requests as the console lists them: filtered by state, searched by
reference, a page at a time.

The filter travels as query parameters (``?state=open&q=INV-10&page=2``) so it works without
JavaScript, survives a reload and is the same for the page and for the live refresh that polls
``/agent/api/requests``. States are the groups an agent thinks in, each defined on the
*effective* status (``states.effective_status_filter``: a lapsed link is found under
"Expired" before anything has written that down).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import func, or_, select

from portal.capture import public_ids, states, visibility
from portal.capture.states import Status
from portal.card_numbers import contains_pan
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.staff import StaffUser
from portal.models.types import utcnow

PAGE_SIZE = 10
#: Far longer than any reference (64) or id, however spaced; longer searches are cut.
MAX_SEARCH = 64
S = Status
#: filter value -> (words in the list, the effective statuses it shows).
STATE_FILTERS: dict[str, tuple[str, tuple[Status, ...]]] = {
    "": ("All", ()),
    "open": ("Waiting or in progress", (S.CREATED, S.SENT, S.OPENED, S.VERIFIED, S.IN_PROGRESS)),
    "completed": ("Completed", (S.SUCCEEDED,)),
    "not_completed": ("Failed or declined", (S.FAILED, S.DECLINED)),
    "expired": ("Expired", (S.EXPIRED,)),
    "stopped": ("Revoked or locked", (S.REVOKED, S.LOCKED)),
}


@dataclass(frozen=True)
class ListFilter:
    state: str = ""
    search: str = ""
    page: int = 1
    #: The search looked like a card number: dropped, never echoed into the page or a URL.
    refused_card_number: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListFilter:
        """Read ``state``, ``q`` and ``page`` forgivingly: anything unknown means "all", a page
        that is not a positive number means the first."""
        state = args.get("state", "") or ""
        if state not in STATE_FILTERS:
            state = ""
        search = " ".join((args.get("q", "") or "").split())[:MAX_SEARCH]
        refused = contains_pan(search)
        if refused:
            search = ""
        try:
            page = max(int(args.get("page", "1") or "1"), 1)
        except ValueError:
            page = 1
        return cls(state, search, min(page, 10_000), refused)

    @property
    def active(self) -> bool:
        return bool(self.state or self.search)

    def query(self, **changes) -> str:
        """The query string of this filter with ``changes`` (e.g. ``page=2``), empty values
        left out, so links and the poll URL stay short."""
        values = {"state": self.state, "q": self.search, "page": self.page, **changes}
        if values["page"] == 1:
            values["page"] = ""
        return urlencode({key: value for key, value in values.items() if value})


@dataclass(frozen=True)
class ListPage:
    requests: list[CaptureRequest]
    total: int
    filter: ListFilter

    @property
    def first_shown(self) -> int:
        return (self.filter.page - 1) * PAGE_SIZE + 1 if self.requests else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.requests) - 1 if self.requests else 0

    @property
    def has_previous(self) -> bool:
        return self.filter.page > 1

    @property
    def has_next(self) -> bool:
        return self.filter.page * PAGE_SIZE < self.total


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(user: StaffUser, wanted: ListFilter, now: datetime) -> list:
    conditions = [CaptureRequest.created_by_id == user.id]
    statuses = STATE_FILTERS[wanted.state][1]
    if statuses:
        conditions.append(or_(*(states.effective_status_filter(s, now) for s in statuses)))
    if wanted.search:
        pattern = f"%{_escape_like(wanted.search.lower())}%"
        by_reference = func.lower(CaptureRequest.reference).like(pattern, escape="\\")
        ids = public_ids.candidates(wanted.search)
        conditions.append(
            or_(by_reference, CaptureRequest.public_id.in_(ids)) if ids else by_reference
        )
    return conditions


def own_requests(
    user: StaffUser, wanted: ListFilter, *options, now: datetime | None = None
) -> ListPage:
    """One page (``PAGE_SIZE``, newest first) of the requests ``user`` created that match
    ``wanted``, with how many match in all. ``options``: loader options."""
    now = now or utcnow()
    conditions = _conditions(user, wanted, now)
    total = db.session.execute(
        select(func.count()).select_from(CaptureRequest).where(*conditions)
    ).scalar_one()
    rows = db.session.execute(
        select(CaptureRequest)
        .where(*conditions)
        .order_by(CaptureRequest.created_at.desc(), CaptureRequest.id.desc())
        .offset((wanted.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .options(*options)
    ).scalars()
    return ListPage(list(rows), total, wanted)


#: The most panels one console page shows (its page of own requests and the team's list).
MAX_SHOWN = 40


def shown_requests(user: StaffUser, wanted_ids: list[str], *options) -> list[CaptureRequest]:
    """The requests named in ``wanted_ids`` (the panels a console page shows) that ``user``
    may see, so the live refresh keeps a panel up to date after it stops matching the filter
    (a request under "Waiting" that was just paid must still turn to "Paid")."""
    ids = [public_id for public_id in wanted_ids[:MAX_SHOWN] if public_id]
    if not ids:
        return []
    return list(
        db.session.execute(
            select(CaptureRequest)
            .where(visibility.visible_to(user), CaptureRequest.public_id.in_(ids))
            .options(*options)
        ).scalars()
    )
