"""Key rotation at a million captured values, before and after envelope encryption.

    .venv/bin/python -m bench.key_rotation [--rows 1000000] [--fields 8] [--batch-size 500]
        [--database URL] [--key-store URL]

On its own PostgreSQL databases (default ``bench_rotation`` and ``bench_rotation_keys``, both
DROPPED AND RECREATED: never point it at real data), migrated by the app's migrations:

1. seeds ``rows / fields`` capture requests (``bench.seed``, COPY) and ``rows`` values the way
   Postern stored them before the envelope: each encrypted directly under keyring key A
   (format 1), loaded with COPY;
2. BEFORE: rotates A -> B the old way, re-encrypting every value (``reencrypt_every_value``:
   the rotation Postern had, kept here since the product no longer needs it);
3. puts every value into the envelope, as ``flask keys convert-values`` would (one data key
   per request, wrapped by B, in the key store): loaded by COPY, or with ``--convert`` by the
   conversion itself, timed (the one-time migration; about as long as step 2);
4. AFTER: rotates B -> C as ``flask keys rotate`` does now: re-wrapping one data key per
   request, and checks that no value row was written.

Prints the figures as JSON and writes them to bench/results/key_rotation.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import time
from pathlib import Path

import psycopg

from bench.__main__ import RESULTS, make_staff, recreate_database
from bench.seed import seed_requests

FIELDS = (
    "address_line1",
    "address_line2",
    "town",
    "county",
    "postcode",
    "date_of_birth",
    "email",
    "phone",
)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _keyring(*ids: str, keys: dict[str, bytes]) -> str:
    return ",".join(f"{i}:{base64.b64encode(keys[i]).decode()}" for i in ids)


def app_on(main: str, key_store: str, keyring: str):
    from portal import create_app

    return create_app(
        "development",
        {
            "SQLALCHEMY_DATABASE_URI": main,
            "KEY_STORE_URL": key_store,
            "DATA_ENCRYPTION_KEYS": keyring,
            "LOG_LEVEL": "WARNING",
        },
    )


def seed_keyring_values(main: str, keyring, fields: int) -> tuple[int, int, float]:
    """One value per (request, field) for the first requests, encrypted directly under the
    keyring's newest key as Postern did before the envelope, by COPY. Returns (values,
    requests, seconds)."""
    from portal.personal_data.crypto import seal

    rng = random.Random(11)
    started = time.perf_counter()
    with psycopg.connect(_plain(main)) as connection:
        request_ids = [
            row[0] for row in connection.execute("SELECT id FROM capture_requests ORDER BY id")
        ]
        with connection.cursor().copy(
            "COPY captured_values (capture_request_id, field_name, format, key_id, nonce, "
            "ciphertext, created_at) FROM STDIN"
        ) as copy:
            for request_id in request_ids:
                for name in FIELDS[:fields]:
                    value = f"{name} {rng.randrange(10**9):09d}"
                    sealed = seal(keyring, request_id, name, value)
                    copy.write_row(
                        (
                            request_id,
                            name,
                            1,
                            sealed.key_id,
                            sealed.nonce,
                            sealed.ciphertext,
                            "2026-12-01 00:00:00+00",
                        )
                    )
        connection.commit()
    return len(request_ids) * fields, len(request_ids), time.perf_counter() - started


def seed_envelope_values(main: str, key_store_url: str, fields: int) -> int:
    """Replace every value by its envelope form, as ``convert-values`` leaves them: a data key
    per request wrapped by the keyring's newest key (COPY into the key store), each value under
    it (format 2, COPY). Call inside an app context. Returns how many values."""
    from portal.personal_data.crypto import new_data_key, seal_value, wrap_data_key
    from portal.personal_data.keyring import current_keyring

    keyring = current_keyring()
    rng = random.Random(13)
    count = 0
    with (
        psycopg.connect(_plain(main)) as connection,
        psycopg.connect(_plain(key_store_url)) as keys_connection,
    ):
        request_ids = [
            row[0]
            for row in connection.execute(
                "SELECT DISTINCT capture_request_id FROM captured_values ORDER BY 1"
            )
        ]
        connection.execute("TRUNCATE captured_values")
        with (
            connection.cursor().copy(
                "COPY captured_values (capture_request_id, field_name, format, key_id, nonce, "
                "ciphertext, created_at) FROM STDIN"
            ) as copy,
            keys_connection.cursor().copy(
                "COPY data_keys (capture_request_id, wrapping_key_id, nonce, wrapped_key, "
                "created_at) FROM STDIN"
            ) as key_copy,
        ):
            for request_id in request_ids:
                data_key = new_data_key()
                wrapped = wrap_data_key(keyring, request_id, data_key)
                key_copy.write_row(
                    (request_id, wrapped.key_id, wrapped.nonce, wrapped.wrapped, "2026-12-01Z")
                )
                for name in FIELDS[:fields]:
                    value = f"{name} {rng.randrange(10**9):09d}"
                    nonce, ciphertext = seal_value(data_key, request_id, name, value)
                    copy.write_row(
                        (request_id, name, 2, None, nonce, ciphertext, "2026-12-01 00:00:00+00")
                    )
                    count += 1
        keys_connection.commit()
        connection.commit()
    return count


def reencrypt_every_value(batch_size: int) -> dict[str, int]:
    """Rotation as Postern had it before the envelope: every value under an older key is read,
    decrypted, encrypted under the newest key and written back with a conditional UPDATE on
    (id, key_id), a batch per transaction. Call inside an app context."""
    from sqlalchemy import select, update

    from portal.extensions import db
    from portal.models.captured_data import CapturedValue
    from portal.personal_data.crypto import Sealed, reseal
    from portal.personal_data.keyring import current_keyring

    values = CapturedValue.__table__
    keyring = current_keyring()
    rotated, last_id = 0, 0
    while True:
        batch = db.session.execute(
            select(
                values.c.id,
                values.c.capture_request_id,
                values.c.field_name,
                values.c.key_id,
                values.c.nonce,
                values.c.ciphertext,
            )
            .where(values.c.key_id != keyring.newest_id, values.c.id > last_id)
            .order_by(values.c.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return {"rotated": rotated}
        for row in batch:
            fresh = reseal(
                keyring,
                row.capture_request_id,
                row.field_name,
                Sealed(row.key_id, row.nonce, row.ciphertext),
            )
            rotated += db.session.execute(
                update(values)
                .where(values.c.id == row.id, values.c.key_id == row.key_id)
                .values(key_id=fresh.key_id, nonce=fresh.nonce, ciphertext=fresh.ciphertext)
            ).rowcount
        last_id = batch[-1].id
        db.session.commit()


def values_written_since(main: str, xid: int) -> int:
    """How many captured_values rows were written by a transaction from ``xid`` on."""
    with psycopg.connect(_plain(main)) as connection:
        return connection.execute(
            "SELECT count(*) FROM captured_values WHERE xmin::text::bigint >= %s", (xid,)
        ).fetchone()[0]


def current_xid(main: str) -> int:
    with psycopg.connect(_plain(main)) as connection:
        return int(connection.execute("SELECT txid_current() % 4294967296").fetchone()[0])


def run(args) -> dict:
    from flask_migrate import upgrade

    from portal.audit import CLI
    from portal.extensions import db
    from portal.personal_data import key_store, rotation

    keys = {name: os.urandom(32) for name in ("a", "b", "c")}
    recreate_database(args.database)
    recreate_database(args.key_store)
    requests = args.rows // args.fields
    results: dict = {"rows": requests * args.fields, "fields_per_request": args.fields}
    results["requests"] = requests
    app_a = app_on(args.database, args.key_store, _keyring("a", keys=keys))
    with app_a.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    staff = make_staff(app_a)
    seed_requests(args.database, requests, staff["agents"])
    with app_a.app_context():
        from portal.personal_data.keyring import current_keyring

        seeded, _, took = seed_keyring_values(args.database, current_keyring(), args.fields)
    results["seed_values_seconds"] = round(took, 1)
    print("seeded", seeded, "values for", requests, "requests in", round(took, 1), "s", flush=True)

    app_b = app_on(args.database, args.key_store, _keyring("b", "a", keys=keys))
    with app_b.app_context():
        started = time.perf_counter()
        before = reencrypt_every_value(args.batch_size)
        results["before_reencrypt_every_value"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "values_rewritten": before["rotated"],
        }
    print("before:", results["before_reencrypt_every_value"], flush=True)

    app_b_only = app_on(args.database, args.key_store, _keyring("b", keys=keys))
    with app_b_only.app_context():
        started = time.perf_counter()
        if args.convert:
            converted = rotation.convert_values(args.batch_size, actor=CLI).converted
        else:  # the same end state, loaded by COPY: the conversion is not what is measured
            converted = seed_envelope_values(args.database, args.key_store, args.fields)
        results["envelope_values"] = {
            "how": "flask keys convert-values" if args.convert else "seeded by COPY",
            "seconds": round(time.perf_counter() - started, 1),
            "values": converted,
            "data_keys": sum(key_store.counts_by_wrapping_key().values()),
        }
    print("envelope:", results["envelope_values"], flush=True)

    app_c = app_on(args.database, args.key_store, _keyring("c", "b", keys=keys))
    xid = current_xid(args.database)
    with app_c.app_context():
        started = time.perf_counter()
        after = rotation.rotate(args.batch_size, actor=CLI)
        results["after_rewrap_data_keys"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "data_keys_rewrapped": after.keys.rewrapped,
            "value_rows_written": values_written_since(args.database, xid),
        }
        sample = random.Random(3).randrange(1, requests + 1)
        from portal.personal_data.values import decrypt_request_values

        assert len(decrypt_request_values(sample)) == args.fields
        for app in (app_a, app_b, app_b_only, app_c):
            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose()
    print("after:", results["after_rewrap_data_keys"], flush=True)
    before_s = results["before_reencrypt_every_value"]["seconds"]
    after_s = results["after_rewrap_data_keys"]["seconds"]
    results["speedup"] = round(before_s / after_s, 1) if after_s else None
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fields", type=int, default=len(FIELDS), choices=range(1, 9))
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--database", default="postgresql+psycopg://127.0.0.1:5432/bench_rotation")
    parser.add_argument(
        "--key-store", default="postgresql+psycopg://127.0.0.1:5432/bench_rotation_keys"
    )
    parser.add_argument(
        "--convert",
        action="store_true",
        help="reach the envelope with `flask keys convert-values` (timed) instead of COPY",
    )
    args = parser.parse_args()
    results = run(args)
    RESULTS.mkdir(exist_ok=True)
    Path(RESULTS / "key_rotation.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
