"""One Redis call per rate limit checked: what every customer page costs the shared Redis.

Flask-Limiter's X-RateLimit-* headers would read the window back (GET and TTL) after each hit;
Postern sends them only with a refusal (``portal.extensions._Limiter``).
"""

from __future__ import annotations

import random

import pytest
import redis

from tests.support.capture import create_direct, path_of
from tests.support.redis_storage import REDIS_URL, needs_redis
from tests.support.web import csrf_from

pytestmark = needs_redis

#: limits' namespace: every rate-limit key holds it, and nothing else Postern sends Redis does.
LIMIT_KEY_MARK = b"LIMITER/"


@pytest.fixture
def limit_calls(monkeypatch):
    """The Redis commands sent about rate-limit keys, as (command, key) pairs."""
    calls: list[tuple[str, bytes]] = []
    send = redis.Redis.execute_command

    def counting(self, *args, **options):
        keys = [a if isinstance(a, bytes) else str(a).encode() for a in args[1:]]
        if any(LIMIT_KEY_MARK in key for key in keys):
            calls.append((str(args[0]).upper(), next(k for k in keys if LIMIT_KEY_MARK in k)))
        return send(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return calls


def _client(app):
    # An address of its own, so that no other run's counts on a shared Redis reach its limits.
    address = f"198.18.{random.randint(0, 255)}.{random.randint(1, 254)}"
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_each_customer_limit_costs_one_redis_call(app_factory, make_staff, limit_calls):
    """Proves: with Redis as storage, the landing page (one limit) and Start (one limit) each
    send Redis exactly one command, and an allowed answer carries no rate-limit headers."""
    app = app_factory(RATELIMIT_STORAGE_URI=REDIS_URL)
    _public_id, url = create_direct(app, make_staff("agent").id)
    client = _client(app)
    client.get(path_of(url))  # the first call may load the counting script
    limit_calls.clear()

    landing = client.get(path_of(url))
    assert landing.status_code == 200
    assert [command for command, _key in limit_calls] == ["EVALSHA"], limit_calls
    assert not any(name.startswith("X-RateLimit") for name, _value in landing.headers)
    limit_calls.clear()

    token = csrf_from(landing.get_data(as_text=True))
    started = client.post(path_of(url) + "/start", data={"csrf_token": token})
    assert started.status_code == 303
    assert [command for command, _key in limit_calls] == ["EVALSHA"], limit_calls


def test_a_refusal_still_says_when_to_come_back(app_factory, make_staff, limit_calls):
    """Proves: the limit itself is unchanged (the 3rd landing in the minute is refused), and
    only the refusal reads the window for its Retry-After and X-RateLimit-* headers."""
    app = app_factory(
        RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_CUSTOMER_LINK_PER_IP="2 per minute"
    )
    _public_id, url = create_direct(app, make_staff("agent").id)
    client = _client(app)
    statuses = [client.get(path_of(url)).status_code for _ in range(2)]
    assert statuses == [200, 200]
    limit_calls.clear()
    refused = client.get(path_of(url))
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert [command for command, _key in limit_calls] == ["EVALSHA", "GET", "TTL"], limit_calls
