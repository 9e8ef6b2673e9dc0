"""What a person sees of the device and place a session signed in from.

The device is the user agent parsed into a few words ("Chrome on Windows") by ``ua-parser``
(which keeps its rules up to date in ``ua-parser-builtins``); only those words are stored, not
the raw header. The place is the client's address, shown masked to its network (the /24 of an
IPv4 address, the /48 of an IPv6 one): enough to recognise "the office" or "home", without
putting a full address on a page.
"""

from __future__ import annotations

import ipaddress

from ua_parser import parse

from portal.security.redaction import scrub_stored_text

#: The ``staff_sessions.device`` column width.
DEVICE_LENGTH = 80
UNKNOWN_DEVICE = "Unknown device"
#: How much of an address is shown: the network, not the host.
_IPV4_PREFIX = 24
_IPV6_PREFIX = 48


def describe_device(user_agent: str | None) -> str:
    """The browser and system in ``user_agent``, in words: "Chrome on Windows", "Mobile Safari
    on iOS", "Firefox"; ``UNKNOWN_DEVICE`` when nothing is recognised. Never raises."""
    if not user_agent:
        return UNKNOWN_DEVICE
    try:
        result = parse(user_agent[:1000])
    except Exception:  # noqa: BLE001  (a strange header must never stop a sign-in)
        return UNKNOWN_DEVICE
    browser = _known(result.user_agent.family if result.user_agent else None)
    system = _known(result.os.family if result.os else None)
    if browser and system:
        words = f"{browser} on {system}"
    else:
        words = browser or system or UNKNOWN_DEVICE
    # Whatever the client sent ends up on a page and in the database: scrubbed first.
    return scrub_stored_text(words, DEVICE_LENGTH) or UNKNOWN_DEVICE


def _known(family: str | None) -> str | None:
    return family if family and family != "Other" else None


def approximate_address(address: str | None) -> str:
    """``address`` masked to its network ("203.0.113.0/24", "2001:db8:1::/48"); "Unknown"
    when there is none or it is not an address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "Unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = _IPV4_PREFIX if ip.version == 4 else _IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
