"""The audit actor of the request in flight: built here, at the HTTP edge, and passed down.

The audit trail and the services never read the request or ``g`` (``portal.audit.actors``):
a view asks this module who is acting and from which client, and hands that on.
"""

from __future__ import annotations

import ipaddress

from flask import g, request

from portal.audit import CUSTOMER, Actor, ClientOrigin
from portal.security.redaction import scrub_stored_text

#: The audit trail's ``user_agent`` column width.
USER_AGENT_LENGTH = 255


def client_origin() -> ClientOrigin:
    """The client of the request in flight: its address (``remote_addr``, as the proxy
    configuration resolved it) and its user agent.

    Both are whatever the client sent, before anyone signed in, and they end up in the
    append-only audit trail, where nothing can be taken out again. So the address is kept only
    if it is one, and the user agent is scrubbed first (``scrub_stored_text``: control
    characters out, card numbers in any spelling and secrets masked, cut to the column's
    width)."""
    return ClientOrigin(
        _address(request.remote_addr),
        scrub_stored_text(request.user_agent.string, USER_AGENT_LENGTH),
    )


def _address(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(text)) if text else None
    except ValueError:
        return None


def signed_in_actor() -> Actor:
    """The staff member signed in on this request (fully, or password only), from this client.
    Drawn from the copy made when the session was loaded, so it costs no query. Only for views
    behind a login: raises AttributeError when nobody is signed in."""
    return Actor.staff(g.current_staff, client_origin())


def customer_actor() -> Actor:
    """The customer on a link's pages, from this client."""
    return CUSTOMER.at(client_origin())
