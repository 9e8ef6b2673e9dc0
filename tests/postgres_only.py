"""The skip mark for tests only PostgreSQL can run (the suite also runs on SQLite)."""

from __future__ import annotations

import os

import pytest

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith(("postgres://", "postgresql"))


def needs_postgres(why: str) -> pytest.MarkDecorator:
    """Skip, saying ``why``, unless the suite runs on PostgreSQL (``TEST_DATABASE_URL``)."""
    return pytest.mark.skipif(
        not ON_POSTGRES,
        reason=f"needs PostgreSQL: set TEST_DATABASE_URL=postgresql://... ({why})",
    )
