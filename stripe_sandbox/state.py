"""The sandbox's memory: every object, event, recorded request and idempotent result.

One re-entrant lock guards it all. API views hold it for their whole run, so each API call is
atomic with respect to the others (the sandbox serialises calls; Stripe's own locking is finer
but the observable outcomes are the same for a single client).
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass
from typing import Any

from .cards import TestCard

_ID_ALPHABET = string.ascii_letters + string.digits

#: Object id prefix to the store attribute holding that kind of object.
_COLLECTIONS = {
    "pi_": "payment_intents",
    "pm_": "payment_methods",
    "ch_": "charges",
    "re_": "refunds",
    "du_": "disputes",
    "evt_": "events",
}


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking id such as ``pi_3Pg...``: the prefix plus random letters and digits."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


@dataclass
class IntentPrivate:
    """What the sandbox knows about a PaymentIntent but does not show in the object."""

    #: The return_url of the latest confirmation, where the 3-D Secure page sends the customer.
    return_url: str | None = None
    #: "any" when the integration asked for 3-D Secure on every card.
    request_three_d_secure: str = "automatic"


class Store:
    """All state. Read or change it only while holding :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.payment_intents: dict[str, dict[str, Any]] = {}
            self.payment_methods: dict[str, dict[str, Any]] = {}
            self.charges: dict[str, dict[str, Any]] = {}
            self.refunds: dict[str, dict[str, Any]] = {}
            self.disputes: dict[str, dict[str, Any]] = {}
            #: In creation order, which is also webhook delivery order.
            self.events: dict[str, dict[str, Any]] = {}
            #: PaymentMethod id to the test card behind it (never the number or CVC).
            self.cards: dict[str, TestCard] = {}
            self.intent_private: dict[str, IntentPrivate] = {}
            #: Recorded /v1/ calls, oldest first, with card data masked.
            self.requests: list[dict[str, Any]] = []
            #: (API key, Idempotency-Key) to the saved answer.
            self.idempotent_results: dict[tuple[str, str], Any] = {}

    def find(self, object_id: str) -> dict[str, Any] | None:
        """Any stored object by id, whatever its kind; None if unknown."""
        for prefix, attribute in _COLLECTIONS.items():
            if object_id.startswith(prefix):
                return getattr(self, attribute).get(object_id)
        return None
