"""Stripe's official fixture objects, the source of truth for every object's field set.

``fixtures/stripe_fixtures.json`` is a subset of Stripe's ``fixtures3.json`` (MIT, see
``fixtures/LICENSE``). Every object the sandbox returns is built by :func:`shaped`, which
insists on exactly the fixture's top-level fields, so the field set cannot drift from Stripe's.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES_PATH = Path(__file__).parent / "fixtures" / "stripe_fixtures.json"
#: Fields Stripe's API reference marks as present only in some states, so absent from the
#: fixture: a failed refund carries why it failed and the balance transaction giving it back.
OPTIONAL_FIELDS = {"refund": ("failure_balance_transaction", "failure_reason")}


@cache
def fixtures() -> dict[str, dict[str, Any]]:
    """Resource name (``payment_intent``, ``charge``...) to Stripe's example object."""
    with FIXTURES_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)["resources"]


def fixture_keys(resource: str) -> list[str]:
    return list(fixtures()[resource])


def shaped(resource: str, values: dict[str, Any]) -> dict[str, Any]:
    """Return ``values`` in the fixture's field order, refusing any missing or extra field.

    A mismatch is a bug in the sandbox, never a client error, hence a plain ValueError.
    """
    keys = fixture_keys(resource)
    missing = set(keys) - set(values)
    extra = set(values) - set(keys)
    if missing or extra:
        raise ValueError(
            f"{resource} fields differ from Stripe's fixture: "
            f"missing {sorted(missing)}, extra {sorted(extra)}"
        )
    return {key: values[key] for key in keys}
