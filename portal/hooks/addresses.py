"""Which IP addresses an outbound webhook may reach: only the public internet.

Loopback, private, link-local (cloud metadata at 169.254.169.254 included), CGNAT, multicast,
unspecified, reserved, site-local and documentation ranges are refused, for IPv4 and IPv6
alike, and an IPv6 address that embeds an IPv4 one (IPv4-mapped, NAT64, 6to4) is judged by the
IPv4 address inside it. ``portal.hooks.safe_http`` applies these rules at registration and on
every connection.
"""

from __future__ import annotations

import ipaddress

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: IPv6 site-local (deprecated, still routed inside some networks; not ``is_private`` in 3.11).
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
#: Metadata services reached at addresses that look ordinary elsewhere (AWS over IPv6).
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


def address_problem(address: str) -> str | None:
    """Why a connection to ``address`` (an IP in text) is refused, or None if it may go."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "it is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(str(embedded))
    if ip in _METADATA:
        return "it is a cloud metadata address"
    if ip.version == 6 and ip in _SITE_LOCAL:
        return "it is a site-local address"
    for label, test in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("shared (CGNAT)", ip.version == 4 and ip in _CGNAT),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if test:
            return f"it is a {label} address"
    if not ip.is_global:
        return "it is not a public internet address"
    return None


def never_allowed(address: str) -> str | None:
    """Why ``address`` is refused even for an allow-listed host (whose name might come to
    resolve anywhere): cloud metadata and link-local addresses are never a webhook's."""
    problem = address_problem(address)
    if problem in ("it is a cloud metadata address", "it is a link-local address"):
        return problem
    return None
