"""Seed the bench database fast: PostgreSQL COPY through psycopg, realistic rows.

``seed_requests(url, count, agent_ids, age=...)`` streams ``count`` capture requests (a mix of
kinds and statuses, references, amounts, teams, timestamps spread over ``days``) and a payment
row for every paid one, in two COPYs. Returns (requests, payments, seconds).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import psycopg

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
STATUSES = [
    ("succeeded", 45),
    ("expired", 20),
    ("sent", 8),
    ("opened", 5),
    ("failed", 7),
    ("revoked", 5),
    ("verified", 3),
    ("locked", 2),
    ("declined", 5),
]
REQUEST_COLUMNS = (
    "id, public_id, kind, status, created_by_id, team_id, amount_minor, currency, purpose, "
    "reference, field_set, identity_item, identity_failures, readback_code, link_nonce_hash, "
    "link_issued_at, "
    "link_channel, expires_at, extension_count, resend_count, created_at, updated_at, sent_at, "
    "finished_at, status_reason"
)
PAYMENT_COLUMNS = (
    "capture_request_id, intent_generation, stripe_payment_intent_id, amount_minor, currency, "
    "status, card_brand, card_last4, card_exp_month, card_exp_year, failed_attempts, created_at, "
    "updated_at, succeeded_at"
)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def seed_requests(
    url: str,
    count: int,
    agents: list[tuple[int, int | None]],
    *,
    newest: datetime | None = None,
    days: int = 365,
    prefix: str = "",
    seed: int = 7,
) -> tuple[int, int, float]:
    """COPY ``count`` requests created by ``agents`` ((staff id, team id) pairs) over the
    ``days`` before ``newest``, plus their payments. ``prefix`` keeps public ids unique across
    calls. Returns (requests, payments, seconds)."""
    rng = random.Random(seed)
    newest = newest or datetime.now(UTC)
    population = [status for status, weight in STATUSES for _ in range(weight)]
    started = time.perf_counter()
    with psycopg.connect(_plain(url)) as connection:
        first_id = connection.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM capture_requests"
        ).fetchone()[0]
        paid: list[tuple[int, int, datetime]] = []
        with connection.cursor().copy(
            f"COPY capture_requests ({REQUEST_COLUMNS}) FROM STDIN"
        ) as copy:
            for n in range(count):
                agent_id, team_id = agents[n % len(agents)]
                status = rng.choice(population)
                kind = "payment" if n % 5 else ("data" if n % 10 else "both")
                created = newest - timedelta(seconds=rng.randrange(days * 86400))
                expires = created + timedelta(minutes=15)
                finished = created + timedelta(minutes=rng.randrange(1, 15))
                amount = rng.randrange(100, 500_000) if kind != "data" else None
                public_id = (prefix + "".join(rng.choices(ALPHABET, k=10)))[-10:]
                copy.write_row(
                    (
                        first_id + n,
                        public_id,
                        kind,
                        status,
                        agent_id,
                        team_id,
                        amount,
                        "GBP" if amount else None,
                        "Gas bill" if amount else None,
                        f"ACC-{rng.randrange(10**6, 10**7)}",
                        "address" if kind != "payment" else None,
                        "postcode",
                        0,
                        "KTW47",
                        "0" * 64,
                        created,
                        "sms",
                        expires,
                        0,
                        0,
                        created,
                        finished,
                        created,
                        finished
                        if status in ("succeeded", "failed", "expired", "revoked")
                        else None,
                        None,
                    )
                )
                if amount and status in ("succeeded", "failed"):
                    paid.append((first_id + n, amount, finished))
        with connection.cursor().copy(f"COPY payments ({PAYMENT_COLUMNS}) FROM STDIN") as copy:
            for request_id, amount, when in paid:
                succeeded = rng.random() < 0.8
                copy.write_row(
                    (
                        request_id,
                        1,
                        f"pi_{prefix}{request_id:010d}",
                        amount,
                        "GBP",
                        "succeeded" if succeeded else "canceled",
                        rng.choice(["visa", "mastercard", "amex"]),
                        f"{rng.randrange(10000):04d}",
                        rng.randrange(1, 13),
                        2030,
                        0 if succeeded else 2,
                        when,
                        when,
                        when if succeeded else None,
                    )
                )
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('capture_requests', 'id'), "
            "(SELECT max(id) FROM capture_requests))"
        )
        connection.execute("ANALYZE capture_requests")
        connection.execute("ANALYZE payments")
    return count, len(paid), time.perf_counter() - started


def main() -> None:
    """``python -m bench.seed --database URL --rows N``: seed a migrated database that already
    has agent accounts (``flask users create``), e.g. to try the back office at scale."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.seed")
    parser.add_argument("--database", required=True, help="postgresql://... (migrated)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="spread over this many days")
    args = parser.parse_args()
    with psycopg.connect(_plain(args.database)) as connection:
        agents = connection.execute(
            "SELECT id, team_id FROM staff_users WHERE role = 'agent' ORDER BY id"
        ).fetchall()
    if not agents:
        raise SystemExit("No agent accounts: create some first (flask users create ... agent).")
    count, paid, seconds = seed_requests(
        args.database,
        args.rows,
        [tuple(agent) for agent in agents],
        days=args.days,
        seed=random.SystemRandom().randrange(2**32),  # a second run draws other public ids
    )
    print(f"seeded {count:,} requests and {paid:,} payments in {seconds:.1f} s")


if __name__ == "__main__":
    main()
