"""The customer's side of a link: is it usable, open it, start (bind to a browser), identity.

Knows nothing of HTTP: the view passes the token from the path and the binding secret from
the cookie, and turns the outcomes here into pages. A link is usable only if all of these
hold: one of our keys signed it within ``max_age``; its request exists; its nonce is the
current one (a resend replaces it); the request is not revoked, expired, locked or finished;
and, once someone has pressed Start, the browser holds that binding's secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

from portal import audit
from portal.capture import identity, links, service
from portal.capture.identity import IdentityFormatError
from portal.capture.states import NOT_YET_VERIFIED, Status, can_transition, transition
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.types import utcnow

#: Problems a link can have, and the HTTP status of the page that explains each.
PROBLEM_STATUS = {
    "tampered": 400,
    "foreign": 400,
    "unknown": 404,
    "other_device": 409,
    "link_expired": 410,
    "expired": 410,
    "replaced": 410,
    "revoked": 410,
    "finished": 410,
    "locked": 423,
}
FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.DECLINED})


@dataclass
class LinkAccess:
    """What a token (and the browser's cookie) give access to. ``problem`` None = usable."""

    problem: str | None
    request: CaptureRequest | None = None
    bound_here: bool = False


def _find(public_id: str) -> CaptureRequest | None:
    return db.session.execute(
        select(CaptureRequest).where(CaptureRequest.public_id == public_id)
    ).scalar_one_or_none()


def resolve(
    token: str, binding_secret_for: Callable[[str], str | None], *, origin: audit.ClientOrigin
) -> LinkAccess:
    """Decide what ``token`` gives access to. ``binding_secret_for(public_id)`` returns the
    binding secret this browser holds for that request (its cookie), or None. Persists expiry
    if the request's time is up (``service.expire_if_due``, noticed from ``origin``)."""
    try:
        claim = links.read_token(token)
    except links.LinkProblem as problem:
        return _problem_access(problem)
    request = _find(claim.public_id)
    if request is None:
        return LinkAccess("unknown")
    if not links.secrets_match(claim.nonce, request.link_nonce_hash):
        return LinkAccess("replaced", request)
    service.expire_if_due(request, origin=origin)
    bound_here = links.secrets_match(
        binding_secret_for(request.public_id), request.bound_secret_hash
    )
    status = request.status
    if status in (Status.REVOKED, Status.EXPIRED, Status.LOCKED):
        return LinkAccess(status, request, bound_here)
    if request.bound_secret_hash is not None and not bound_here:
        return LinkAccess("other_device", request)
    if status in FINISHED and not bound_here:
        return LinkAccess("finished", request)
    return LinkAccess(None, request, bound_here)


def _problem_access(problem: links.LinkProblem) -> LinkAccess:
    """Tell an old-key link (we issued exactly this payload, but no longer hold the key that
    signed it) from a damaged or forged one. Only chooses the page; both are refused."""
    if problem.kind == "expired":
        # Our signature, only too old: name the request if this is still its current link, so
        # a paid one can say so instead of asking for a new link. Nothing else is usable.
        request = _find(problem.claim.public_id) if problem.claim else None
        if request is not None and links.secrets_match(
            problem.claim.nonce, request.link_nonce_hash
        ):
            return LinkAccess("link_expired", request)
        return LinkAccess("link_expired")
    if problem.kind == "bad_signature" and problem.claim is not None:
        request = _find(problem.claim.public_id)
        if request is not None and links.secrets_match(
            problem.claim.nonce, request.link_nonce_hash
        ):
            return LinkAccess("foreign")
    return LinkAccess("tampered")


def mark_opened(request: CaptureRequest, actor: audit.Actor) -> bool:
    """Record that the link was opened (a GET: the customer, or a preview bot), audited as
    ``actor``. Idempotent: only the first call changes anything or writes an audit row."""
    # Every later view of the page finds the request already past "opened": skip the UPDATE
    # (and its commit) then. The conditional UPDATE still decides between racing first views.
    if not can_transition(request.status, Status.OPENED) or not transition(request, Status.OPENED):
        return False
    audit.record_for(request, "capture.opened", actor)
    return True


@dataclass(frozen=True)
class StartResult:
    #: "bound" (this call bound the browser; ``secret`` goes in its cookie), "continue" (this
    #: browser was already bound), "other_device", or "gone" (no longer usable: re-resolve).
    outcome: str
    secret: str | None = None


def start(access: LinkAccess, actor: audit.Actor) -> StartResult:
    """The customer (``actor``) pressed Start: bind the request to this browser, exactly once.

    One conditional UPDATE decides, however many browsers and processes race for it.
    """
    request = access.request
    if access.bound_here:
        return StartResult("continue")
    if access.problem == "other_device":
        audit.record_for(request, "capture.bind_refused", actor, outcome="failure")
        return StartResult("other_device")
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    won = db.session.execute(
        update(CaptureRequest)
        .where(
            CaptureRequest.id == request.id,
            CaptureRequest.bound_secret_hash.is_(None),
            CaptureRequest.status.in_([s.value for s in NOT_YET_VERIFIED]),
            CaptureRequest.expires_at > now,
        )
        .values(bound_secret_hash=links.hash_secret(secret), bound_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(request)
    if won != 1:
        if request.bound_secret_hash is not None:
            audit.record_for(request, "capture.bind_refused", actor, outcome="failure")
            return StartResult("other_device")
        return StartResult("gone")
    mark_opened(request, actor)
    audit.record_for(request, "capture.bound", actor)
    if request.identity_item is None and transition(request, Status.VERIFIED):
        audit.record_for(request, "capture.verified", actor, details={"method": "none"})
    return StartResult("bound", secret)


@dataclass(frozen=True)
class IdentityResult:
    #: "verified", "wrong", "locked", "unreadable" (not counted), or "gone".
    outcome: str
    remaining: int = 0
    message: str | None = None


def max_failures() -> int:
    return int(current_app.config["CAPTURE_IDENTITY_MAX_FAILURES"])


def check_identity(access: LinkAccess, answer: str, actor: audit.Actor) -> IdentityResult:
    """Check the customer's answer. Wrong answers are counted atomically; the last allowed
    one locks the request. Every attempt is audited (as ``actor``), never the answer itself."""
    request = access.request
    if not access.bound_here or request.status not in NOT_YET_VERIFIED or not request.identity_item:
        return IdentityResult("gone")
    item, bound_hash = request.identity_item, request.bound_secret_hash
    try:
        correct = identity.answer_matches(item, answer, request.identity_hash or "")
    except IdentityFormatError as problem:
        _audit_attempt(request, actor, "unreadable")
        return IdentityResult("unreadable", message=str(problem))
    limit = max_failures()
    if correct:
        verified = transition(
            request,
            Status.VERIFIED,
            where=[
                CaptureRequest.bound_secret_hash == bound_hash,
                CaptureRequest.identity_failures < limit,
                CaptureRequest.expires_at > utcnow(),
            ],
        )
        if not verified:
            return IdentityResult("gone")
        _audit_attempt(request, actor, "correct")
        audit.record_for(request, "capture.verified", actor, details={"method": item})
        return IdentityResult("verified")
    counted = db.session.execute(
        update(CaptureRequest)
        .where(
            CaptureRequest.id == request.id,
            CaptureRequest.status.in_([s.value for s in NOT_YET_VERIFIED]),
        )
        .values(identity_failures=CaptureRequest.identity_failures + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(request)
    if counted != 1:
        return IdentityResult("gone")
    failures = request.identity_failures
    _audit_attempt(request, actor, "wrong", failures)
    if failures >= limit:
        if transition(
            request,
            Status.LOCKED,
            where=[CaptureRequest.identity_failures >= limit],
            status_reason="identity_failed",
        ):
            audit.record_for(request, "capture.locked", actor, details={"failures": failures})
        return IdentityResult("locked")
    return IdentityResult("wrong", remaining=limit - failures)


def _audit_attempt(
    request: CaptureRequest, actor: audit.Actor, result: str, failures: int | None = None
) -> None:
    details = {"item": request.identity_item, "result": result}
    if failures is not None:
        details["failures"] = failures
    audit.record_for(
        request,
        "capture.identity_attempt",
        actor,
        outcome="success" if result == "correct" else "failure",
        details=details,
    )
