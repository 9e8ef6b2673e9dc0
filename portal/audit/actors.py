"""Who an audit row says acted, and from where: passed by the caller, never looked up.

An ``Actor`` is a staff member (``Actor.staff(user)``), the customer, or one of the named parts
of the system below, each defined here once. Its ``origin`` is the client an action reached us
from (address and user agent), taken from the request at the HTTP edge
(``portal.security.actors``); commands and workers have none.

Which to pass:

- a function that is handed the acting staff member itself (the agent creating a request,
  someone signing in, a refund's requester) records ``Actor.staff(user, origin)`` and takes
  only the ``origin``: the person is already an argument;
- every other audited function takes the ``actor``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ClientOrigin:
    """The client an action reached us from: its IP address and user agent (at most 255
    characters), each None when unknown. ``NO_ORIGIN`` for commands and workers."""

    ip: str | None = None
    user_agent: str | None = None


NO_ORIGIN = ClientOrigin()
#: The ``role`` of an audit row written by an API key (``Actor.api_key``).
API_KEY_ROLE = "api_key"


@dataclass(frozen=True)
class Actor:
    """Who did it (``label``; a staff member's ``id`` and ``role`` too) and from where."""

    label: str
    id: int | None = None
    role: str | None = None
    origin: ClientOrigin = NO_ORIGIN

    @classmethod
    def staff(cls, user, origin: ClientOrigin = NO_ORIGIN) -> Actor:
        """The staff member ``user`` (a ``StaffUser``, or anything with its ``username``, ``id``
        and ``role``, such as the session's ``CurrentStaff`` copy), acting from ``origin``."""
        return cls(user.username, user.id, user.role, origin)

    @classmethod
    def api_key(cls, prefix: str, name: str, origin: ClientOrigin = NO_ORIGIN) -> Actor:
        """An integration's API key (its displayable ``prefix`` and ``name``), calling from
        ``origin``: ``api-key:pstn_live_ab12cd34 (CRM)``. No staff id: a key is not a person."""
        return cls(f"api-key:{prefix} ({name})"[:120], None, API_KEY_ROLE, origin)

    def at(self, origin: ClientOrigin) -> Actor:
        """The same actor, acting from ``origin``."""
        return replace(self, origin=origin)


#: Time and the rules themselves: a link expiring, say.
SYSTEM = Actor("system")
#: The person a link was sent to, on the customer's pages.
CUSTOMER = Actor("customer")
#: Someone signing in whose username matched no active account.
ANONYMOUS = Actor("anonymous")
#: A ``flask ...`` command run by the operator (and the demo data it creates).
CLI = Actor("cli")
#: ``flask retention purge``.
RETENTION = Actor("retention")
#: ``flask payments reconcile``: repairs what a lost webhook left behind.
RECONCILE = Actor("reconcile")
#: Stripe's webhook events, applied by the webhook worker.
STRIPE_WEBHOOK = Actor("stripe-webhook")
#: The outbox worker sending link messages.
DELIVERY_WORKER = Actor("delivery-worker")
