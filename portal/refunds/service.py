"""Refunds: ask, approve or reject (dual control), hand to Stripe, retry. Knows nothing of HTTP.

Rules, each enforced here whatever the caller:

- Only a succeeded card payment without an open chargeback can be refunded, never for more
  than was paid minus what is already refunded, on its way or awaiting approval. The check
  and the new row happen in one transaction holding a lock on the payment row, so two staff
  members refunding the same payment at once cannot both pass it. Stripe's own refusal of an
  over-refund is the backstop.
- The requester must have re-authenticated (password and second factor) within
  REAUTH_MAX_AGE; so must an approver.
- Above REFUND_DUAL_CONTROL_MINOR a second person with REFUND_APPROVE must approve; never the
  requester (checked here and by a CHECK constraint on the table).
- The refund row is committed BEFORE Stripe is called (``portal.refunds.submission``);
  Stripe sees the idempotency key ``postern-refund-<row id>``, so a retry after a timeout or
  an outage never refunds twice.
- Each refund form carries a one-time ``form_key``, stored on the row and unique per
  requester: the same form sent twice (a double click, a resubmission after a slow answer)
  makes no second row, so no second refund; ``AlreadyRequested`` hands back the first one.

The money rules (what is left, whether the payment may be refunded at all) are
``portal.refunds.position``; the errors, ``portal.refunds.errors``.

Transactions: every public function COMMITS its own work (documented per function), because
Stripe is called between database steps and no transaction is held open across that call.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.i18n import N_
from portal.models.payment import Payment
from portal.models.refund import Refund, RefundStatus
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from portal.refunds import sync, wording

# The errors and the money rules live beside this module; their names are kept here too, as
# callers know them (``service.OverRefund``, ``service.position``).
from portal.refunds.errors import AlreadyRequested as AlreadyRequested
from portal.refunds.errors import Disputed as Disputed
from portal.refunds.errors import NotAllowed as NotAllowed
from portal.refunds.errors import NotRefundable as NotRefundable
from portal.refunds.errors import OverRefund as OverRefund
from portal.refunds.errors import ReauthRequired as ReauthRequired
from portal.refunds.errors import RefundError as RefundError
from portal.refunds.errors import WrongState as WrongState
from portal.refunds.position import Position as Position
from portal.refunds.position import position as position
from portal.refunds.position import refuse_if_not_refundable, refuse_over_refund
from portal.security.authz import Permission, has_permission
from portal.staff.reauth import is_recent
from portal.staff_text import checked_justification

#: What a refund form's one-time key looks like (``new_form_key`` makes 22 characters).
FORM_KEY_PATTERN = r"^[A-Za-z0-9_-]{16,32}$"

log = logging.getLogger("postern.refunds")


def dual_control_limit() -> int:
    return int(current_app.config["REFUND_DUAL_CONTROL_MINOR"])


def refunds_of(payment: Payment) -> list[Refund]:
    return list(
        db.session.execute(
            select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id.desc())
        ).scalars()
    )


def require_permission(user: StaffUser, permission: Permission) -> None:
    if not has_permission(user.role, permission):
        raise NotAllowed(N_("You do not have permission to do this."))


def require_reauth(reauthenticated_at: datetime | None) -> None:
    if not is_recent(reauthenticated_at):
        raise ReauthRequired(N_("Confirm it is you (password and code) before doing this."))


def lock_payment(payment_id: int) -> Payment:
    """The payment row, locked until this transaction ends.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite ignores FOR UPDATE, and Python's driver opens the
    transaction only at the first write, so a harmless write comes first: from then on the
    database's single write lock makes every other refund request wait for this one.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(id=Payment.id)
            .execution_options(synchronize_session=False)
        )
    return db.session.execute(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    ).scalar_one()


def request_refund(
    payment_id: int,
    *,
    amount_minor: int,
    reason_code: str,
    note: str,
    requester: StaffUser,
    reauthenticated_at: datetime | None,
    origin: audit.ClientOrigin,
    form_key: str | None = None,
) -> Refund:
    """Record a refund of ``amount_minor`` on the payment, as ``requester`` acting from
    ``origin``.

    ``form_key`` is the one-time key of the form that asked (``new_form_key``); a second call
    with the same key by the same requester raises AlreadyRequested carrying the first refund.
    Returns the new refund: "pending_approval" above the dual-control limit, else "requested"
    (hand it to ``submit`` next). Audits refund.requested. Raises NotAllowed, ReauthRequired,
    AlreadyRequested, RefundError (reason), NotRefundable (Disputed while a chargeback is open),
    OverRefund; nothing is written then. COMMITS.
    """
    require_permission(requester, Permission.REFUND_REQUEST)
    require_reauth(reauthenticated_at)
    _check_form_key(form_key)
    # Before the amount is judged: resent after the first refund took everything that was
    # left, a form would otherwise be told "nothing is left" instead of seeing its refund.
    _refuse_if_form_used(payment_id, requester, form_key)
    if reason_code not in wording.REASONS:
        raise RefundError(N_("Choose a reason from the list."))
    note = checked_justification(note, error=RefundError)
    if amount_minor <= 0:
        raise RefundError(N_("Enter an amount greater than zero."))
    try:
        payment = lock_payment(payment_id)
        # Again under the lock: a double click's second request waited here for the first.
        _refuse_if_form_used(payment_id, requester, form_key)
        refund = add_refund(
            payment,
            amount_minor=amount_minor,
            reason_code=reason_code,
            note=note,
            requester=requester,
            origin=origin,
            form_key=form_key,
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        # The unique (requester, form key) constraint caught what the lookups did not see
        # (say, one key sent for two payments at once): answer as the lookup would have.
        _refuse_if_form_used(payment_id, requester, form_key)
        raise
    except Exception:
        db.session.rollback()
        raise
    return refund


def add_refund(
    payment: Payment,
    *,
    amount_minor: int,
    reason_code: str,
    note: str | None,
    requester: StaffUser,
    origin: audit.ClientOrigin,
    form_key: str | None = None,
    retry_of: Refund | None = None,
    api_key_id: int | None = None,
    actor: audit.Actor | None = None,
) -> Refund:
    """Add a refund of ``amount_minor`` to ``payment`` (locked by the caller with
    ``lock_payment``), once it is refundable and the amount is within what remains; audits
    refund.requested (as ``actor``, by default the requester). "pending_approval" above the
    dual-control limit, and always when an API key (``api_key_id``) asks: a person approves
    every refund a machine asks for. Else "requested". Raises NotRefundable or OverRefund
    (nothing added). Joins the caller's transaction."""
    refuse_if_not_refundable(payment)
    refuse_over_refund(position(payment), amount_minor)
    needs_approval = amount_minor > dual_control_limit() or api_key_id is not None
    now = utcnow()
    refund = Refund(
        payment_id=payment.id,
        amount_minor=amount_minor,
        currency=payment.currency,
        reason_code=reason_code,
        reason_note=note,
        status=RefundStatus.PENDING_APPROVAL if needs_approval else RefundStatus.REQUESTED,
        requires_approval=needs_approval,
        requested_by_id=requester.id,
        form_key=form_key,
        api_key_id=api_key_id,
        retry_of_id=retry_of.id if retry_of is not None else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(refund)
    db.session.flush()
    details = {
        "refund_id": refund.id,
        "payment_intent": payment.stripe_payment_intent_id,
        "amount_minor": amount_minor,
        "currency": payment.currency,
        "reason_code": reason_code,
        "requires_approval": needs_approval,
    }
    if retry_of is not None:
        details["retry_of"] = retry_of.id
    audit.record_for(
        sync.request_of(refund),
        "refund.requested",
        actor or audit.Actor.staff(requester, origin),
        details=details,
    )
    return refund


def request_refund_by_api_key(
    payment_id: int,
    *,
    amount_minor: int,
    reason_code: str,
    note: str,
    api_key_id: int,
    accountable: StaffUser,
    actor: audit.Actor,
) -> Refund:
    """An integration's API key asks for a refund (the API checked its refunds:write scope):
    the same money rules as the back office's form, and it always waits in the approval queue
    for a person with REFUND_APPROVE (never ``accountable``, the administrator the key was made
    by, who stands as its requester). Audited as ``actor``. Raises RefundError (reason, note),
    NotRefundable, OverRefund; nothing is written then. COMMITS."""
    if reason_code not in wording.REASONS:
        raise RefundError(N_("Choose a reason from the list."))
    note = checked_justification(note, error=RefundError)
    if amount_minor <= 0:
        raise RefundError(N_("Enter an amount greater than zero."))
    try:
        refund = add_refund(
            lock_payment(payment_id),
            amount_minor=amount_minor,
            reason_code=reason_code,
            note=note,
            requester=accountable,
            origin=actor.origin,
            api_key_id=api_key_id,
            actor=actor,
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return refund


def new_form_key() -> str:
    """A fresh one-time key for a refund form (22 URL-safe characters, 128 random bits)."""
    return secrets.token_urlsafe(16)


def _check_form_key(form_key: str | None) -> None:
    if form_key is not None and not re.fullmatch(FORM_KEY_PATTERN, form_key):
        raise RefundError(N_("The refund form is not valid: open the refund page again."))


def _refuse_if_form_used(payment_id: int, requester: StaffUser, form_key: str | None) -> None:
    """Raise AlreadyRequested if ``requester`` already made a refund with this form's key;
    RefundError if the key was used for another payment (a form cannot move between
    payments, so that is a tampered or broken submission). Keyless calls pass."""
    if form_key is None:
        return
    earlier = db.session.execute(
        select(Refund).where(Refund.requested_by_id == requester.id, Refund.form_key == form_key)
    ).scalar_one_or_none()
    if earlier is None:
        return
    if earlier.payment_id != payment_id:
        raise RefundError(
            N_(
                "This refund form was already used for another payment, so nothing was refunded. "
                "Open the refund page again."
            )
        )
    log.info(
        "refund form sent again; answered with the refund it made",
        extra={"refund_id": earlier.id, "staff_id": requester.id},
    )
    raise AlreadyRequested(earlier)


def _refund_for_decision(refund_id: int, decider: StaffUser) -> Refund:
    require_permission(decider, Permission.REFUND_APPROVE)
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        raise WrongState(N_("There is no such refund."))
    if refund.requested_by_id == decider.id:
        raise NotAllowed(N_("A refund must be approved or rejected by someone other than you."))
    if refund.status != RefundStatus.PENDING_APPROVAL:
        raise WrongState(N_("This refund is no longer waiting for approval."))
    return refund


def _decide(refund: Refund, decider: StaffUser, status: str, note: str | None) -> bool:
    """The conditional UPDATE that makes a decision happen once, whoever clicks first."""
    now = utcnow()
    return (
        db.session.execute(
            update(Refund)
            .where(
                Refund.id == refund.id,
                Refund.status == RefundStatus.PENDING_APPROVAL,
                Refund.requested_by_id != decider.id,
            )
            .values(
                status=status,
                decided_by_id=decider.id,
                decided_at=now,
                decision_note=note,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def approve(
    refund_id: int,
    *,
    approver: StaffUser,
    reauthenticated_at: datetime | None,
    origin: audit.ClientOrigin,
) -> Refund:
    """Approve a refund waiting for dual control; it becomes "requested" (``submit`` next).
    Audits refund.approved (as ``approver``, from ``origin``). Raises NotAllowed,
    ReauthRequired, WrongState. COMMITS."""
    require_reauth(reauthenticated_at)
    return _record_decision(
        refund_id, approver, RefundStatus.REQUESTED, None, "refund.approved", origin
    )


def reject(refund_id: int, *, approver: StaffUser, note: str, origin: audit.ClientOrigin) -> Refund:
    """Reject a refund waiting for dual control (no money moves, so no re-authentication).
    Audits refund.rejected (as ``approver``, from ``origin``). Raises NotAllowed, RefundError
    (note), WrongState. COMMITS."""
    note = checked_justification(note, error=RefundError, what="reason for rejecting")
    return _record_decision(
        refund_id, approver, RefundStatus.REJECTED, note, "refund.rejected", origin
    )


def _record_decision(
    refund_id: int,
    decider: StaffUser,
    status: str,
    note: str | None,
    action: str,
    origin: audit.ClientOrigin,
) -> Refund:
    """Move the refund out of pending approval to ``status`` and audit ``action``. Raises
    NotAllowed, WrongState (also when another decision won the race). COMMITS."""
    refund = _refund_for_decision(refund_id, decider)
    if not _decide(refund, decider, status, note):
        db.session.rollback()
        raise WrongState(N_("This refund is no longer waiting for approval."))
    audit.record_for(
        sync.request_of(refund),
        action,
        audit.Actor.staff(decider, origin),
        details={"refund_id": refund.id, "amount_minor": refund.amount_minor},
    )
    db.session.commit()
    return refund
