"""What agents do with capture requests: create, send, resend, extend, revoke.

Knows nothing of HTTP. Every function joins the current transaction and audits what it did;
the caller commits. Rules the agent can break raise ``CaptureError`` with a message to show.

Links reach customers through the delivery outbox, which imports capture (to word a message,
and to skip one whose request has closed), so capture does not import it back: it asks the
app's ``LinkCarrier`` (``create_app`` puts the outbox there) to queue a link's message, and to
stop the queued ones whenever a link dies: revoked, replaced, or expired, even on a customer's
visit (``portal.capture.customer``), which is why this is a seam and not a layer above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flask import current_app
from sqlalchemy import inspect, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached

from portal import audit
from portal.capture import identity, links, states
from portal.capture.errors import CaptureError
from portal.capture.kinds import COPY_LINK, DATA_KINDS, PAYMENT_KINDS
from portal.capture.request_rules import check_new_request, max_expiry_minutes
from portal.capture.states import (
    EXPIRABLE,
    NOT_YET_VERIFIED,
    TERMINAL,
    Status,
    effective_status,
    transition,
)
from portal.extensions import db
from portal.i18n import N_
from portal.models.capture import CaptureRequest
from portal.models.staff import StaffUser
from portal.models.types import utcnow

#: ``app.extensions`` key of the app's ``LinkCarrier`` (``portal.init_link_delivery``).
LINK_CARRIER = "postern.link_carrier"
_MAPPER = inspect(CaptureRequest)


class LinkCarrier(Protocol):
    """What carries a request's link to the customer (``portal.delivery.outbox``)."""

    def queue_link_message(
        self,
        capture_request: CaptureRequest,
        link_url: str,
        channel: str,
        destination: str,
        actor: audit.Actor,
    ) -> object:
        """Queue a message carrying ``link_url`` in the current transaction, audited as
        ``actor``. Raises ValueError with words for the agent for a bad destination or a
        channel switched off."""
        ...

    def cancel_pending(
        self, capture_request: CaptureRequest, reason: str, actor: audit.Actor
    ) -> int:
        """Stop the request's messages not yet sent; returns how many. Audits as ``actor``
        if any."""
        ...


def _carrier() -> LinkCarrier:
    return current_app.extensions[LINK_CARRIER]


@dataclass(frozen=True)
class RequestSpec:
    """A new request, already parsed and validated by the form (amounts in minor units)."""

    kind: str
    reference: str
    expiry_minutes: int
    channel: str
    destination: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    purpose: str | None = None
    interaction_id: str | None = None
    field_set: str | None = None
    identity_item: str | None = None
    identity_value: str | None = None
    create_key: str | None = None
    #: The customer's language (``portal.i18n.LANGUAGES``): their message and their pages.
    language: str = "en"


@dataclass(frozen=True)
class IssuedLink:
    """A request and the link just issued for it. The URL exists only here: the database
    keeps a hash of its nonce, so it can be shown once (copy link) or handed to the outbox."""

    request: CaptureRequest
    url: str


def create_request(agent: StaffUser, spec: RequestSpec, *, actor: audit.Actor) -> IssuedLink:
    """Create a request for ``agent`` (its owner), issue its link and send it on
    ``spec.channel``, audited as ``actor``: the agent at the console, or the command that
    asked on their behalf.

    Raises CaptureError for a policy breach, ``DuplicateSubmission`` when the same form was
    already submitted (a double click), ValueError from the outbox for a bad destination.
    """
    # Every way of creating a request passes here (console, API, commands): the one set of
    # rules (portal.capture.request_rules), whatever the caller checked before.
    check_new_request(spec)
    identity_hash = None
    if spec.identity_item:
        try:
            identity_hash = identity.answer_hash(spec.identity_item, spec.identity_value or "")
        except identity.IdentityFormatError as problem:
            raise CaptureError(f"Identity check: {problem}") from None
    now = utcnow()
    nonce = links.new_nonce()
    values = {
        "public_id": links.new_public_id(),
        "kind": spec.kind,
        "status": Status.CREATED.value,
        "created_by_id": agent.id,
        "team_id": agent.team_id,
        "create_key": spec.create_key,
        "amount_minor": spec.amount_minor if spec.kind in PAYMENT_KINDS else None,
        "currency": spec.currency if spec.kind in PAYMENT_KINDS else None,
        "purpose": spec.purpose or None,
        "reference": spec.reference,
        "interaction_id": spec.interaction_id or None,
        "field_set": spec.field_set if spec.kind in DATA_KINDS else None,
        "language": spec.language,
        "identity_item": spec.identity_item or None,
        "identity_hash": identity_hash,
        "readback_code": identity.new_readback_code(),
        "link_nonce_hash": links.hash_secret(nonce),
        "link_issued_at": now,
        "link_channel": spec.channel,
        "expires_at": now + timedelta(minutes=spec.expiry_minutes),
        "created_at": now,
        "updated_at": now,
    }
    for draw in range(3):
        request = _insert_request(values)
        if request is not None:
            break
        existing = _by_create_key(agent.id, spec.create_key)
        if existing is not None:
            raise DuplicateSubmission(existing)
        if draw == 2:  # three public-id collisions in a row (45 bits each): not chance
            raise RuntimeError("three new public ids in a row were already taken")
        # A public id already taken (public_ids: 45 bits, short enough to read out): draw
        # another rather than fail the agent's request.
        values["public_id"] = links.new_public_id()
    audit.record_for(
        request,
        "capture.created",
        actor,
        details={
            "kind": spec.kind,
            "amount_minor": request.amount_minor,
            "currency": request.currency,
            "field_set": request.field_set,
            "identity_item": request.identity_item,
            "expiry_minutes": spec.expiry_minutes,
            "channel": spec.channel,
            "language": spec.language,
        },
    )
    url = _send(request, nonce, spec.channel, spec.destination, resend=False, actor=actor)
    return IssuedLink(request, url)


class DuplicateSubmission(CaptureError):
    """The form was submitted twice; ``request`` is the one the first submission created."""

    def __init__(self, request: CaptureRequest):
        super().__init__("This request was already created.")
        self.request = request


def _insert_request(values: dict) -> CaptureRequest | None:
    """Insert a request, or nothing if its public id or create key is taken: one
    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` instead of an ORM flush in a savepoint
    (three round trips, and the ORM's unit of work, on the path every create takes). Returns
    the new row as a persistent ORM object, built from what the INSERT returned (no reload),
    or None on a conflict."""
    table = CaptureRequest.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    row = db.session.execute(
        insert(table).values(**values).on_conflict_do_nothing().returning(*table.c)
    ).first()
    if row is None:
        return None
    columns = row._mapping
    request = CaptureRequest(
        **{attr.key: columns[attr.columns[0]] for attr in _MAPPER.column_attrs}
    )
    make_transient_to_detached(request)  # as if loaded: no INSERT, changes become UPDATEs
    db.session.add(request)
    return request


def _by_create_key(agent_id: int, create_key: str | None) -> CaptureRequest | None:
    if not create_key:
        return None
    return db.session.execute(
        select(CaptureRequest).where(
            CaptureRequest.created_by_id == agent_id, CaptureRequest.create_key == create_key
        )
    ).scalar_one_or_none()


def _send(
    request: CaptureRequest,
    nonce: str,
    channel: str,
    destination: str | None,
    *,
    resend: bool,
    actor: audit.Actor,
) -> str:
    url = links.link_url(links.make_token(request.public_id, nonce))
    if channel != COPY_LINK:
        _carrier().queue_link_message(request, url, channel, destination or "", actor)
    transition(request, Status.SENT)
    audit.record_for(request, "capture.sent", actor, details={"channel": channel, "resend": resend})
    return url


def revoke(request: CaptureRequest, *, actor: audit.Actor) -> None:
    """Stop the request: its link stops working at once. Audited as ``actor``. Raises
    CaptureError if it has already finished or a payment is under way."""
    expire_if_due(request, origin=actor.origin)
    if not transition(request, Status.REVOKED, status_reason="revoked_by_agent"):
        raise CaptureError(_cannot_change(request, "revoked"))
    _carrier().cancel_pending(request, "revoked", actor)
    audit.record_for(request, "capture.revoked", actor)


def extend(
    request: CaptureRequest, minutes: int, *, actor: audit.Actor, now: datetime | None = None
) -> datetime:
    """Give the customer ``minutes`` more, within the policy's longest lifetime for a link.
    Returns the new expiry. Audited as ``actor``. Raises CaptureError when it cannot be
    extended."""
    expire_if_due(request, origin=actor.origin)
    now = now or utcnow()
    if minutes < 1:
        raise CaptureError(N_("Choose how many minutes to add."))
    old_expiry = request.expires_at
    limit = request.link_issued_at + timedelta(minutes=max_expiry_minutes())
    new_expiry = min(old_expiry + timedelta(minutes=minutes), limit)
    if effective_status(request, now) not in EXPIRABLE:
        raise CaptureError(_cannot_change(request, "extended"))
    if new_expiry <= old_expiry:
        raise CaptureError(
            f"This link already has the longest life allowed ({max_expiry_minutes()} minutes). "
            "If the customer needs longer, create a new request."
        )
    moved = db.session.execute(
        update(CaptureRequest)
        .where(
            CaptureRequest.id == request.id,
            CaptureRequest.status.in_([s.value for s in EXPIRABLE]),
            # Unchanged since we read it: two clicks extend once, not twice.
            CaptureRequest.expires_at == old_expiry,
            CaptureRequest.expires_at > now,
        )
        .values(
            expires_at=new_expiry,
            extension_count=CaptureRequest.extension_count + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(request)
    if moved != 1:
        raise CaptureError(N_("The request changed while you were extending it. Check its status."))
    added = int((new_expiry - old_expiry).total_seconds() // 60)
    audit.record_for(request, "capture.extended", actor, details={"minutes_added": added})
    return new_expiry


def resend(
    request: CaptureRequest, channel: str, destination: str | None, *, actor: audit.Actor
) -> IssuedLink:
    """Issue a new link (the old one stops working) and send it on ``channel``, audited as
    ``actor``.

    Only before the customer has pressed Start: after that the link is tied to their
    browser. Raises CaptureError otherwise, ValueError from the outbox for a bad destination.
    """
    expire_if_due(request, origin=actor.origin)
    now = utcnow()
    if request.bound_secret_hash is not None and request.status in NOT_YET_VERIFIED:
        raise CaptureError(
            N_(
                "The customer has already started on their device, so a new link cannot be sent. "
                "If it is the wrong person, revoke this request and create a new one."
            )
        )
    nonce = links.new_nonce()
    moved = db.session.execute(
        update(CaptureRequest)
        .where(
            CaptureRequest.id == request.id,
            CaptureRequest.status.in_([s.value for s in NOT_YET_VERIFIED]),
            CaptureRequest.bound_secret_hash.is_(None),
            CaptureRequest.expires_at > now,
        )
        .values(
            link_nonce_hash=links.hash_secret(nonce),
            link_issued_at=now,
            link_channel=channel,
            resend_count=CaptureRequest.resend_count + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(request)
    if moved != 1:
        raise CaptureError(_cannot_change(request, "re-sent"))
    _carrier().cancel_pending(request, "link_replaced", actor)
    audit.record_for(request, "capture.link_replaced", actor, details={"channel": channel})
    return IssuedLink(
        request, _send(request, nonce, channel, destination, resend=True, actor=actor)
    )


def _cannot_change(request: CaptureRequest, verb: str) -> str:
    status = request.status
    if status == Status.IN_PROGRESS:
        return f"The customer is paying right now, so this request cannot be {verb}."
    if effective_status(request) == Status.EXPIRED:
        return f"This request's time is up, so it cannot be {verb}. Create a new one."
    if status == Status.VERIFIED and verb == "re-sent":
        return "The customer has already confirmed who they are, so a new link is not needed."
    if status in TERMINAL:
        return f"This request has finished ({status.replace('_', ' ')}), so it cannot be {verb}."
    return "This request changed while you were working on it. Check its status and try again."


def expire_if_due(request: CaptureRequest, *, origin: audit.ClientOrigin) -> bool:
    """Write down that the request's time is up, if it is: the request expires, its unsent
    messages are cancelled, and both are audited once. True if this call did it. Every reader
    calls this, so expiry needs no background job; ``origin`` is the client of the request
    that noticed (``NO_ORIGIN`` for commands and workers).

    Prefer this to ``states.mark_expired_if_due``, which changes the status only.
    """
    if not states.mark_expired_if_due(request):
        return False
    # Time expired the request, not whoever happened to notice (an agent's status poll, a
    # customer's visit, an erasure): both rows name the system. Like every row written during
    # a request, they keep the client of the request that noticed.
    actor = audit.SYSTEM.at(origin)
    _carrier().cancel_pending(request, "expired", actor)
    audit.record_for(request, "capture.expired", actor)
    return True
