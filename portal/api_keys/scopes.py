"""What an API key may do, by scope: the one list, read by the API, the back office and the CLI."""

from __future__ import annotations

from portal.i18n import N_

REQUESTS_WRITE = "requests:write"
REQUESTS_READ = "requests:read"
PAYMENTS_READ = "payments:read"
REFUNDS_WRITE = "refunds:write"

#: Scope -> what it allows, in words for the back office and the docs.
SCOPES: dict[str, str] = {
    REQUESTS_WRITE: N_("Create capture requests, and revoke, extend or resend them"),
    REQUESTS_READ: N_("Read capture requests, their status and their events"),
    PAYMENTS_READ: N_(
        "Read a request's payment (card brand and last four only), refunds and disputes"
    ),
    REFUNDS_WRITE: N_("Ask for a refund (a person in the back office approves it)"),
}


def parse_scopes(values: list[str] | tuple[str, ...] | str) -> tuple[str, ...]:
    """The scopes named in ``values`` (a list, or text separated by spaces or commas), in the
    order of ``SCOPES``. Raises ValueError naming an unknown scope, or when none is given."""
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    wanted = {value.strip() for value in values if value and value.strip()}
    unknown = sorted(wanted - SCOPES.keys())
    if unknown:
        raise ValueError(f"Unknown scope {', '.join(unknown)}: choose from {', '.join(SCOPES)}.")
    if not wanted:
        raise ValueError(f"Choose at least one scope: {', '.join(SCOPES)}.")
    return tuple(scope for scope in SCOPES if scope in wanted)
