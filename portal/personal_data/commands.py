"""``flask keys``: the data-encryption keys (status, rotation, generating a new key).

The same keys seal captured personal data and staff TOTP seeds, so status and rotation cover
both."""

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
from portal.personal_data import rotation
from portal.personal_data.keyring import current_keyring
from portal.staff import mfa

#: An AppGroup, so each command runs in an app context however it is invoked (tests included).
keys_cli = AppGroup("keys", help="Data-encryption keys for captured personal data and TOTP seeds.")


@keys_cli.command("status")
def keys_status():
    """Count stored values, then staff TOTP seeds, per key id; exit 1 if any is under a key that
    is not configured."""
    keyring = current_keyring()
    click.echo(f"newest key (encrypts new values): {keyring.newest_id}")
    missing = _echo_counts(keyring, rotation.counts_by_key(), "value")
    missing |= _echo_counts(keyring, mfa.seeds_by_key(), "TOTP seed", list_keys=False)
    if missing:
        sys.exit(1)


def _echo_counts(keyring, counts: dict[str, int], noun: str, *, list_keys: bool = True) -> bool:
    """Print ``counts`` per key id (every configured one if ``list_keys``, else only those in
    use) and what is left to rotate; True if some are under a key that is not configured."""
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
    pending = sum(n for key_id, n in counts.items() if key_id != keyring.newest_id)
    click.echo(
        f"{pending} {noun}(s) under older keys: run `flask keys rotate`"
        if pending
        else f"every {noun} is under the newest key"
    )
    return missing


@keys_cli.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None)
def keys_rotate(batch_size):
    """Re-encrypt every value and TOTP seed under the newest key (safe beside live traffic;
    idempotent)."""
    size = batch_size or current_app.config["DATA_KEY_ROTATION_BATCH"]
    result = rotation.rotate(size, actor=audit.CLI)
    click.echo(
        f"re-encrypted under {result.newest_key_id}: {result.rotated} value(s); "
        f"examined {result.examined}, already done or erased meanwhile {result.skipped}, "
        f"failed {len(result.failed_ids)}"
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
    if result.failed_ids:
        shown = ", ".join(str(i) for i in result.failed_ids[:20])
        click.echo(f"could not decrypt captured_values ids: {shown}", err=True)
    if seeds.failed_ids:
        shown = ", ".join(str(i) for i in seeds.failed_ids[:20])
        click.echo(f"could not decrypt the TOTP seeds of staff ids: {shown}", err=True)
    if result.failed_ids or seeds.failed_ids:
        sys.exit(1)


@keys_cli.command("generate")
@click.option("--id", "key_id", default=None, help="Key id (default: k<yyyymmdd>).")
def keys_generate(key_id):
    """Print a new random key as key_id:base64, to put FIRST in POSTERN_DATA_ENCRYPTION_KEYS."""
    key_id = key_id or f"k{utcnow():%Y%m%d}"
    click.echo(f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}")
