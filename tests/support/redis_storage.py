"""The Redis the rate-limit tests count in: ``TEST_REDIS_URL``, by default database 15 of the
local server. CI always has it; elsewhere the tests that need it skip, saying why."""

from __future__ import annotations

import os

import pytest
import redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_available() -> bool:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


needs_redis = pytest.mark.skipif(
    not _redis_available() and os.environ.get("CI") != "true",
    reason=f"no Redis at {REDIS_URL} (CI always runs this test)",
)
