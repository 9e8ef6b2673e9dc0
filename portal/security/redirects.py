"""Safe redirects: only to a path on this site, never to another host."""

from __future__ import annotations

from urllib.parse import urlsplit

# Control characters and backslashes are normalised away by browsers ("/\evil" -> "//evil").
_FORBIDDEN = set("\\") | {chr(c) for c in range(0x20)} | {"\x7f"}


def safe_next(target: str | None, fallback: str) -> str:
    """Return ``target`` if it is a same-site absolute path, otherwise ``fallback``.

    Accepts only ``/path[?query]``; refuses schemes, hosts, protocol-relative ``//host``,
    backslash tricks such as ``/\\host``, and anything with control characters.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if any(ch in _FORBIDDEN for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target
