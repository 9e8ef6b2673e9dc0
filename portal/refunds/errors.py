"""What the refund rules refuse with: one family of errors, each a plain sentence fit for staff
(``str(error)``). ``portal.refunds.service`` names them too, for its callers."""

from __future__ import annotations

from portal.models.refund import Refund


class RefundError(ValueError):
    """A refund rule was broken; ``str(error)`` is a plain sentence fit for staff."""


class NotRefundable(RefundError):
    """The payment cannot be refunded (not succeeded, or unknown to Stripe)."""


class Disputed(NotRefundable):
    """The cardholder's bank has an open chargeback on the payment: Stripe has taken the
    disputed amount back for the bank, so a refund now would pay the cardholder twice. An
    inquiry does not stop a refund (``portal.models.dispute.status_blocks_refund``)."""


class OverRefund(RefundError):
    """The amount is more than what is left to refund."""


class ReauthRequired(RefundError):
    """Password and second factor must be proven again first."""


class NotAllowed(RefundError):
    """This person may not do this (permission, or approving their own refund)."""


class WrongState(RefundError):
    """The refund is not in a state this action applies to (someone else got there first)."""


class AlreadyRequested(RefundError):
    """The same refund form was sent again; ``refund`` is the one its first submission made.
    Nothing was written: not a second row, not a second audit entry."""

    def __init__(self, refund: Refund):
        super().__init__("This refund was already requested: the form was sent twice.")
        self.refund = refund
