"""Settings of one sandbox instance, shared by the CLI and the in-process runner."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

#: The API version pinned by the stripe SDK the project ships (stripe 16.1.0). Events carry it
#: as ``api_version``, as real Stripe stamps events with the account's default version.
DEFAULT_API_VERSION = "2026-10-28.endive"

#: Who may frame the card and 3-D Secure pages when nothing is configured: any loopback port,
#: which covers a portal running on the developer's machine or in a test. (CSP has no syntax
#: for IPv6 literals, so [::1] cannot be listed.)
LOOPBACK_FRAME_ANCESTORS = ("http://127.0.0.1:*", "http://localhost:*")


@dataclass
class SandboxSettings:
    """Everything that differs between sandbox instances; all fields have safe defaults."""

    # The sandbox's published test keys: known to every developer, they guard nothing real.
    secret_key: str = "sk_test_postern_sandbox"  # noqa: S105
    publishable_key: str = "pk_test_postern_sandbox"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    allowed_frame_ancestors: tuple[str, ...] = LOOPBACK_FRAME_ANCESTORS
    api_version: str = DEFAULT_API_VERSION
    #: How long a ``timeout`` fault holds back its answer; longer than the client's timeout.
    fault_timeout_seconds: float = 5.0
    #: Webhook redelivery: first retry after ``base`` seconds, doubling up to ``max``.
    webhook_retry_base_seconds: float = 0.5
    webhook_retry_max_seconds: float = 30.0
    webhook_max_attempts: int = 8
    webhook_timeout_seconds: float = 5.0
    #: CA certificates (PEM) the webhook endpoint's certificate must chain to; None means the
    #: system's. A portal behind a TLS proxy with a private CA (tests/prodlike) names its CA.
    webhook_ca_file: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.allowed_frame_ancestors, str):
            self.allowed_frame_ancestors = parse_origin_list(self.allowed_frame_ancestors)
        if not self.secret_key.startswith("sk_test_"):
            raise ValueError("the sandbox only accepts test-mode secret keys (sk_test_...)")
        if not self.publishable_key.startswith("pk_test_"):
            raise ValueError("the sandbox only accepts test-mode publishable keys (pk_test_...)")
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("a webhook URL needs a signing secret (whsec_...)")


def parse_origin_list(value: str) -> tuple[str, ...]:
    """Split a comma- or space-separated list of CSP sources."""
    return tuple(item for item in value.replace(",", " ").split() if item)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; False for anything reachable remotely."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return (mapped or address).is_loopback
