"""Stripe's refund calls, through the payments gateway (``portal.payments.gateway``).

``StripeGateway`` owns the one ``stripe.StripeClient`` and the translation of Stripe's errors
into ``ProviderUnavailable`` / ``ProviderRejected``; this adapter adds the three refund calls
on top of it, so no module here imports ``stripe``. (If the payments gateway grows its own
refund methods, this adapter folds into it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.payments.gateway import StripeGateway

#: The metadata key linking a Stripe refund back to our refund row.
METADATA_REFUND = "postern_refund"
METADATA_REQUEST = "postern_request"


@dataclass(frozen=True)
class RefundFacts:
    """A Stripe refund, reduced to what Postern keeps or needs."""

    id: str
    status: str
    amount: int
    currency: str
    payment_intent_id: str | None
    failure_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def our_refund_id(self) -> int | None:
        value = self.metadata.get(METADATA_REFUND, "")
        return int(value) if value.isdigit() else None


def refund_facts(refund: Any) -> RefundFacts:
    data = refund.to_dict() if hasattr(refund, "to_dict") else dict(refund)
    intent = data.get("payment_intent")
    return RefundFacts(
        id=data["id"],
        status=str(data.get("status") or "pending"),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        payment_intent_id=intent.get("id") if isinstance(intent, dict) else intent,
        failure_reason=data.get("failure_reason"),
        metadata=dict(data.get("metadata") or {}),
    )


class RefundGateway:
    """Refund calls on an existing ``StripeGateway`` (its client, timeouts and error kinds)."""

    def __init__(self, gateway: StripeGateway):
        self._gateway = gateway

    @classmethod
    def for_app(cls) -> RefundGateway:
        return cls(StripeGateway.for_app())

    def _call(self, method, *args, **kwargs):
        # The payments gateway's own call wrapper: Stripe's errors become ProviderUnavailable
        # (try again later) or ProviderRejected (Stripe refused this call as made).
        return self._gateway._call(method, *args, **kwargs)

    @property
    def _refunds(self):
        return self._gateway._client.v1.refunds

    def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        reason: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> RefundFacts:
        """Refund ``amount`` of the PaymentIntent's charge. The same key always gets the same
        refund back. Raises ProviderUnavailable / ProviderRejected."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": amount,
            "metadata": metadata,
        }
        if reason:
            params["reason"] = reason
        refund = self._call(
            self._refunds.create, params=params, options={"idempotency_key": idempotency_key}
        )
        return refund_facts(refund)

    def retrieve_refund(self, refund_id: str) -> RefundFacts:
        return refund_facts(self._call(self._refunds.retrieve, refund_id))

    def refunds_for_intent(self, payment_intent_id: str) -> list[RefundFacts]:
        """Every refund of the PaymentIntent (up to 100, newest first)."""
        page = self._call(
            self._refunds.list, params={"payment_intent": payment_intent_id, "limit": 100}
        )
        data = page.to_dict() if hasattr(page, "to_dict") else dict(page)
        return [refund_facts(item) for item in data.get("data") or []]
