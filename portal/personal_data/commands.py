"""``flask keys``: the data-encryption keys (status, rotation, converting older values,
re-applying erasures to a restored key store, generating a new key).

The keyring's keys wrap each capture request's data key (in the key store) and seal staff TOTP
seeds, so status and rotation cover both (docs/personal-data-encryption.md)."""

from __future__ import annotations

import base64
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from config.keyring import KEY_BYTES
from portal import audit
from portal.extensions import db
from portal.models.types import utcnow
from portal.personal_data import key_store, rotation, shredding
from portal.personal_data.keyring import current_keyring
from portal.staff import mfa

#: An AppGroup, so each command runs in an app context however it is invoked (tests included).
keys_cli = AppGroup("keys", help="Data-encryption keys for captured personal data and TOTP seeds.")


@keys_cli.command("status")
def keys_status():
    """Count data keys per wrapping key, values still in the keyring format, then staff TOTP
    seeds, per key id; exit 1 if any is under a key that is not configured."""
    keyring = current_keyring()
    click.echo(f"newest key (wraps new data keys): {keyring.newest_id}")
    click.echo("data keys in the key store, by the keyring key that wraps them:")
    missing = _echo_counts(keyring, key_store.counts_by_wrapping_key(), "data key")
    legacy = rotation.counts_by_key()
    if legacy:
        click.echo("values still encrypted directly under a keyring key (older format):")
        missing |= _echo_counts(keyring, legacy, "value", list_keys=False, all_pending=True)
    else:
        click.echo("every value is in the envelope format (under its request's data key)")
    missing |= _echo_counts(keyring, mfa.seeds_by_key(), "TOTP seed", list_keys=False)
    if missing:
        sys.exit(1)


def _echo_counts(
    keyring,
    counts: dict[str, int],
    noun: str,
    *,
    list_keys: bool = True,
    all_pending: bool = False,
) -> bool:
    """Print ``counts`` per key id (every configured one if ``list_keys``, else only those in
    use) and what is left to rotate (all of them, ``all_pending``); True if some are under a
    key that is not configured."""
    missing = False
    shown = (*keyring.ids, *sorted(set(counts) - set(keyring.ids))) if list_keys else counts
    for key_id in shown:
        if key_id == keyring.newest_id:
            note = "newest"
        elif key_id in keyring.ids:
            note = "older, still decrypts"
        else:
            note = f"NOT CONFIGURED: these {noun}s cannot be read"
            missing = True
        label = key_id if list_keys else f"{key_id} ({noun}s)"
        click.echo(f"{label:32} {counts.get(key_id, 0):>10}  {note}")
    pending = sum(n for key_id, n in counts.items() if all_pending or key_id != keyring.newest_id)
    click.echo(
        f"{pending} {noun}(s) under older keys: run `flask keys rotate`"
        if pending
        else f"every {noun} is under the newest key"
    )
    return missing


@keys_cli.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None)
def keys_rotate(batch_size):
    """Re-wrap every data key under the newest key (the values are not touched), convert any
    value still in the keyring format, re-seal TOTP seeds (safe beside live traffic;
    idempotent)."""
    size = batch_size or current_app.config["DATA_KEY_ROTATION_BATCH"]
    result = rotation.rotate(size, actor=audit.CLI)
    keys, values = result.keys, result.values
    click.echo(
        f"re-wrapped under {result.newest_key_id}: {keys.rewrapped} data key(s); "
        f"examined {keys.examined}, already done or erased meanwhile {keys.skipped}, "
        f"failed {len(keys.failed_ids)}"
    )
    click.echo(
        f"converted to the envelope format: {values.converted} value(s); "
        f"examined {values.examined}, already done or erased meanwhile {values.skipped}, "
        f"failed {len(values.failed_ids)}"
    )
    seeds = mfa.reseal_seeds()
    audit.record(
        "keys.totp_seeds_resealed",
        outcome="success" if not seeds.failed_ids else "partial",
        target_type="data_key",
        target_id=seeds.newest_key_id,
        details={
            "examined": seeds.examined,
            "resealed": seeds.resealed,
            "skipped": seeds.skipped,
            "failed": len(seeds.failed_ids),
        },
        actor=audit.CLI,
    )
    db.session.commit()
    click.echo(
        f"re-sealed TOTP seeds under {seeds.newest_key_id}: {seeds.resealed}; "
        f"examined {seeds.examined}, changed meanwhile {seeds.skipped}, "
        f"failed {len(seeds.failed_ids)}"
    )
    if keys.failed_ids:
        shown = ", ".join(str(i) for i in keys.failed_ids[:20])
        click.echo(f"could not unwrap the data keys of capture requests: {shown}", err=True)
    if values.failed_ids:
        shown = ", ".join(str(i) for i in values.failed_ids[:20])
        click.echo(f"could not decrypt captured_values ids: {shown}", err=True)
    if seeds.failed_ids:
        shown = ", ".join(str(i) for i in seeds.failed_ids[:20])
        click.echo(f"could not decrypt the TOTP seeds of staff ids: {shown}", err=True)
    if result.failed or seeds.failed_ids:
        sys.exit(1)


@keys_cli.command("convert-values")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None)
def keys_convert_values(batch_size):
    """Move values stored before envelope encryption under their request's own data key, in
    batches (safe beside live traffic; idempotent). `rotate` does this too."""
    size = batch_size or current_app.config["DATA_KEY_ROTATION_BATCH"]
    result = rotation.convert_values(size, actor=audit.CLI)
    click.echo(
        f"converted to the envelope format: {result.converted} value(s); "
        f"examined {result.examined}, already done or erased meanwhile {result.skipped}, "
        f"failed {len(result.failed_ids)}"
    )
    if result.failed_ids:
        shown = ", ".join(str(i) for i in result.failed_ids[:20])
        click.echo(f"could not decrypt captured_values ids: {shown}", err=True)
        sys.exit(1)


@keys_cli.command("reapply-erasures")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000)
def keys_reapply_erasures(batch_size):
    """Destroy again the data key of every request in the erasure journal: run it after
    restoring the key store from a backup (idempotent)."""
    result = shredding.reapply_erasures(batch_size)
    audit.record(
        "keys.erasures_reapplied",
        target_type="data_key",
        details={"journaled": result.journaled, "destroyed": result.destroyed},
        actor=audit.CLI,
    )
    db.session.commit()
    click.echo(
        f"erasure journal: {result.journaled} erased request(s); "
        f"data keys still in the key store and destroyed now: {result.destroyed}"
    )


@keys_cli.command("generate")
@click.option("--id", "key_id", default=None, help="Key id (default: k<yyyymmdd>).")
def keys_generate(key_id):
    """Print a new random key as key_id:base64, to put FIRST in POSTERN_DATA_ENCRYPTION_KEYS."""
    key_id = key_id or f"k{utcnow():%Y%m%d}"
    click.echo(f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}")
