"""The audit actor of the request in flight: built here, at the HTTP edge, and passed down.

The audit trail and the services never read the request or ``g`` (``portal.audit.actors``):
a view asks this module who is acting and from which client, and hands that on.
"""

from __future__ import annotations

from flask import g, request

from portal.audit import CUSTOMER, Actor, ClientOrigin


def client_origin() -> ClientOrigin:
    """The client of the request in flight: its address (``remote_addr``, as the proxy
    configuration resolved it) and its user agent, cut to the audit column's 255 characters."""
    return ClientOrigin(request.remote_addr, (request.user_agent.string or "")[:255] or None)


def signed_in_actor() -> Actor:
    """The staff member signed in on this request (fully, or password only), from this client.
    Drawn from the copy made when the session was loaded, so it costs no query. Only for views
    behind a login: raises AttributeError when nobody is signed in."""
    return Actor.staff(g.current_staff, client_origin())


def customer_actor() -> Actor:
    """The customer on a link's pages, from this client."""
    return CUSTOMER.at(client_origin())
