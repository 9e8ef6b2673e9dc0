"""Login rate limits shared through Redis: two app processes count against one limit.

This is what production runs (POSTERN_RATELIMIT_STORAGE_URI=redis://...): with memory storage
each process would count alone and an attacker could multiply the limit by the process count.
"""

from __future__ import annotations

import secrets

import redis

from tests.support.redis_storage import REDIS_URL, needs_redis
from tests.support.web import post_form

pytestmark = needs_redis


def test_two_app_instances_share_the_per_account_login_limit(app_factory, make_staff):
    """Proves: with Redis as storage, two app instances count one account's failed logins together,
    so spreading guesses over servers does not lift the limit."""
    prefix = f"postern-test-{secrets.token_hex(4)}"
    settings = {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATELIMIT_LOGIN_PER_ACCOUNT": "3 per minute",
        "RATELIMIT_LOGIN_PER_IP": "100 per minute",
    }
    first, second = app_factory(**settings), app_factory(**settings)
    make_staff("agent", username="shared.limit")
    attempt = {"username": "shared.limit", "password": "wrong password, twelve+"}

    statuses = []
    for app in (first, second, first):
        statuses.append(post_form(app.test_client(), "/login", attempt).status_code)
    assert statuses == [401, 401, 401]

    # The fourth attempt in the minute is refused, although this instance has seen only one.
    refused = post_form(second.test_client(), "/login", attempt)
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*{prefix}*")
    assert keys, "the limit was not stored in Redis"
