"""Where a webhook may be delivered: no request of ours reaches an address inside our network.

An endpoint URL is typed by a buyer's admin, so it is treated as hostile (server-side request
forgery). Only addresses on the public internet are reached (``portal.hooks.addresses`` says
which are not).

The check runs twice:

- at registration (``check_url``): the name is resolved and every address it has must pass;
- on every connection (``post``): our own urllib3 connection classes resolve the name again,
  check each address before connecting to it, and check the connected socket's peer address
  before a byte is sent. A name that answered with a public address at registration and
  loopback now (DNS rebinding) is refused there.

Production takes ``https://`` only. ``HOOKS_ALLOWED_HOSTS`` lists ``host`` or ``host:port``
entries exempt from the address rules (an integration gateway inside the buyer's network; the
example receiver in development); outside production they may be plain http too, and
production insists each names its port; even so, never a cloud metadata or link-local
address. ``HOOKS_CA_BUNDLE`` is trusted, instead of the public CAs, for those allow-listed
hosts only: a gateway whose certificate comes from the buyer's own CA. Redirects are never
followed; connecting, each read and the whole exchange are bounded in time, and at most
``MAX_RESPONSE_BYTES`` of the answer are read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from requests.certs import where as ca_bundle
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError

from portal.hooks.addresses import address_problem, never_allowed

MAX_RESPONSE_BYTES = 4096
MAX_URL_LENGTH = 2000


class UnsafeURL(ValueError):
    """The URL may not be used as an endpoint; the message says why, in words for an admin."""


@dataclass(frozen=True)
class Policy:
    https_only: bool
    #: Lower-case ``host`` or ``host:port`` entries exempt from the address rules.
    allowed_hosts: frozenset[str]
    #: The CA bundle endpoints' certificates are checked against (None: the public CAs).
    ca_file: str | None = None

    def allows(self, host: str, port: int) -> bool:
        host = host.lower()
        shown = f"[{host}]" if ":" in host else host
        return bool({host, shown, f"{shown}:{port}"} & self.allowed_hosts)


def policy_for(config) -> Policy:
    """The app's policy: https only in production (the allow-list exempts a host from the
    address rules there, never from TLS), and the CA bundle configured, if any."""
    production = config.get("ENV_NAME") == "production"
    allowed = config.get("HOOKS_ALLOWED_HOSTS") or ()
    return Policy(
        production,
        frozenset(entry.strip().lower() for entry in allowed if entry),
        config.get("HOOKS_CA_BUNDLE") or None,
    )


def _parts(url: str, policy: Policy) -> tuple[str, str, int, bool]:
    """(scheme, host, port, allow-listed) of ``url``. Raises UnsafeURL."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"The URL is too long: at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeURL("The URL is not valid. Enter it as https://host/path.") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host:
        raise UnsafeURL(
            "Enter a full URL starting with https://, for example https://crm.example.com/hooks."
        )
    if parts.username or parts.password:
        raise UnsafeURL(
            "Remove the user name and password from the URL: the signature proves who sent it."
        )
    if parts.fragment:
        raise UnsafeURL("Remove the part after # from the URL.")
    port = port or (443 if scheme == "https" else 80)
    allowed = policy.allows(host, port)
    if scheme == "http" and (policy.https_only or not allowed):
        raise UnsafeURL("Use an https:// URL: events are only sent over an encrypted connection.")
    return scheme, host, port, allowed


def _resolve(host: str, port: int) -> list[tuple]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_url(url: str, policy: Policy) -> str:
    """``url`` tidied, if it may be registered: its name resolves, and to public addresses
    only (unless allow-listed). Raises UnsafeURL with words for the admin."""
    _scheme, host, port, allowed = _parts(url, policy)
    if not allowed:
        try:
            infos = _resolve(host, port)
        except (OSError, UnicodeError):
            raise UnsafeURL(f"The host {host} could not be found. Check the URL.") from None
        for info in infos:
            problem = address_problem(info[4][0])
            if problem:
                raise UnsafeURL(
                    f"Events cannot be sent to {host}: {problem}. Use a public https:// URL."
                )
    return url.strip()


class RefusedAddress(Exception):
    """The connection was refused by our rules, before any byte was sent."""


def guarded_socket(host: str, port: int, timeout: float | None, allowed: bool) -> socket.socket:
    """A socket connected to ``host``, checked before connecting and again by its peer
    address. Raises RefusedAddress, or OSError when no address could be reached."""
    last_error: OSError | None = None
    judge = never_allowed if allowed else address_problem
    for family, socktype, proto, _name, sockaddr in _resolve(host, port):
        if problem := judge(sockaddr[0]):
            raise RefusedAddress(f"refused: {problem}")
        sock = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            peer = sock.getpeername()[0]
        except OSError as error:
            sock.close()
            last_error = error
            continue
        if problem := judge(peer):
            sock.close()
            raise RefusedAddress(f"refused: {problem}")
        return sock
    raise last_error or OSError("no address to connect to")


def _guarded(base: type, allowed: bool, opened: list[socket.socket]) -> type:
    class Guarded(base):
        def _new_conn(self):
            sock = guarded_socket(self.host, self.port, self.timeout, allowed)
            opened.append(sock)  # for the whole exchange's deadline (``post``)
            return sock

    return Guarded


def _cut(opened: list[socket.socket], cut: threading.Event) -> None:
    """End every connection in ``opened``: a blocked read returns at once, with an error.
    ``cut`` is set first, so whoever sees that error knows why."""
    cut.set()
    for sock in opened:
        with contextlib.suppress(OSError):  # already closed: nothing left to cut
            sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class Answer:
    """What came of one POST: the status code (None if no answer) and our words for a
    failure (None on a 2xx)."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str,
    payload: bytes,
    headers: dict[str, str],
    policy: Policy,
    *,
    connect_timeout: float,
    read_timeout: float,
) -> Answer:
    """POST ``payload`` to ``url`` under ``policy``. Never raises for the network's sake: a
    refusal, a timeout or a broken connection comes back as an Answer with words."""
    started = time.monotonic()

    def answer(code: int | None, error: str | None) -> Answer:
        return Answer(code, error, int((time.monotonic() - started) * 1000))

    try:
        scheme, host, port, allowed = _parts(url, policy)
    except UnsafeURL as problem:
        return answer(None, str(problem)[:200])
    parts = urlsplit(url.strip())
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = Timeout(connect=connect_timeout, read=read_timeout)
    opened: list[socket.socket] = []
    if scheme == "https":
        # The buyer's own CA is trusted for their allow-listed gateway only, never for the
        # public endpoints beside it.
        ca_file = policy.ca_file if allowed and policy.ca_file else ca_bundle()
        pool = HTTPSConnectionPool(
            host, port, timeout=timeout, retries=False, maxsize=1, ca_certs=ca_file
        )
        pool.ConnectionCls = _guarded(HTTPSConnection, allowed, opened)
    else:
        pool = HTTPConnectionPool(host, port, timeout=timeout, retries=False, maxsize=1)
        pool.ConnectionCls = _guarded(HTTPConnection, allowed, opened)
    # The read timeout bounds each read, not the exchange: an endpoint sending a byte every
    # few seconds would hold the worker (and its lease) for hours. The whole POST gets one
    # deadline, after which its connection is cut.
    cut = threading.Event()
    deadline = threading.Timer(connect_timeout + read_timeout, _cut, args=(opened, cut))
    deadline.daemon = True
    deadline.start()
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=payload,
            headers={"user-agent": "Postern-Webhooks/1", **headers},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            response.read(MAX_RESPONSE_BYTES)  # enough to finish a short answer; never more
        finally:
            response.close()
    except RefusedAddress as problem:
        return answer(None, str(problem))
    except (HTTPError, OSError, ValueError) as problem:  # ValueError: a name IDNA refuses
        if cut.is_set():
            return answer(None, "timed out (the whole exchange took too long)")
        return answer(None, _words(problem))
    finally:
        deadline.cancel()
        pool.close()
    if 200 <= response.status < 300:
        return answer(response.status, None)
    if 300 <= response.status < 400:
        return answer(response.status, "answered with a redirect, which is not followed")
    return answer(response.status, f"answered HTTP {response.status}")


def _words(problem: Exception) -> str:
    text = f"{type(problem).__name__} {problem}".lower()
    if "timed out" in text or "timeout" in text:
        return "timed out"
    if "refused" in text:
        return "connection refused"
    if "ssl" in text or "certificate" in text:
        return "TLS failed (certificate or protocol)"
    if "name" in text and ("resolve" in text or "known" in text):
        return "host name not found"
    return "connection failed"
