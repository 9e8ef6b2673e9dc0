"""Trying a failed refund again: a NEW refund for the same amount and reason, under exactly the
rules of any refund (``portal.refunds.service``). Knows nothing of HTTP.

A failed or cancelled refund is final, as Stripe's is: its row keeps what happened. "Try again"
makes a second row naming the first (``retry_of_id``, unique), so:

- pressing it twice, or in two tabs, makes one new refund (the second press is answered with
  ``AlreadyRequested`` carrying the first retry), and Stripe sees a new idempotency key only
  once;
- the requester must have re-authenticated, above the dual-control limit a second person must
  approve, and the amount must still be left (the failed refund no longer counts, anything
  refunded since does);
- it is refused while the cardholder's bank has a chargeback open, like any refund.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.i18n import N_
from portal.models.refund import Refund, RefundStatus
from portal.models.staff import StaffUser
from portal.refunds import wording
from portal.refunds.service import (
    AlreadyRequested,
    WrongState,
    add_refund,
    lock_payment,
    require_permission,
    require_reauth,
)
from portal.security.authz import Permission

#: What a failed refund may be tried again from.
RETRIABLE = frozenset({RefundStatus.FAILED, RefundStatus.CANCELLED})


def can_try_again(refund: Refund) -> bool:
    """Whether ``refund`` failed and was not tried again yet (whoever may press the button)."""
    if refund.status not in RETRIABLE:
        return False
    return retry_of(refund.id) is None


def retry_of(refund_id: int) -> Refund | None:
    """The refund that tried ``refund_id`` again, if one did."""
    return db.session.execute(
        select(Refund).where(Refund.retry_of_id == refund_id)
    ).scalar_one_or_none()


def try_again(
    refund_id: int,
    *,
    requester: StaffUser,
    reauthenticated_at: datetime | None,
    origin: audit.ClientOrigin,
) -> Refund:
    """A new refund of the failed refund's amount and reason, as ``requester`` from ``origin``.

    Returns it: "pending_approval" above the dual-control limit, else "requested" (hand it to
    ``submission.submit`` next). Audits refund.requested with ``retry_of``. Raises NotAllowed,
    ReauthRequired, WrongState (not failed), AlreadyRequested (already tried again: carries
    that refund), NotRefundable (Disputed while a chargeback is open), OverRefund; nothing is
    written then. COMMITS.
    """
    require_permission(requester, Permission.REFUND_REQUEST)
    require_reauth(reauthenticated_at)
    failed = db.session.get(Refund, refund_id)
    if failed is None or failed.status not in RETRIABLE:
        raise WrongState(N_("Only a refund that failed can be tried again."))
    earlier = retry_of(refund_id)
    if earlier is not None:
        raise _tried_already(earlier)
    try:
        payment = lock_payment(failed.payment_id)
        refund = add_refund(
            payment,
            amount_minor=failed.amount_minor,
            reason_code=failed.reason_code,
            note=f"Trying again: refund {failed.id} failed.",
            requester=requester,
            origin=origin,
            retry_of=failed,
        )
        db.session.commit()
    except IntegrityError:
        # Another press of the button got there first (the unique retry_of_id): answer with it.
        db.session.rollback()
        earlier = retry_of(refund_id)
        if earlier is not None:
            raise _tried_already(earlier) from None
        raise
    except Exception:
        db.session.rollback()
        raise
    return refund


def _tried_already(retry: Refund) -> AlreadyRequested:
    problem = AlreadyRequested(retry)
    problem.args = (
        f"This refund was already tried again (refund {retry.id}, "
        f"{wording.status_words(retry.status).lower()}): no second refund was made.",
    )
    return problem
