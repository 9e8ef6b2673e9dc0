"""``flask keys``: the data-encryption keys (status, rotation, generating a new key)."""

from __future__ import annotations

import base64
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from config.keyring import KEY_BYTES
from portal import audit
from portal.models.types import utcnow
from portal.personal_data import rotation
from portal.personal_data.keyring import current_keyring

#: An AppGroup, so each command runs in an app context however it is invoked (tests included).
keys_cli = AppGroup("keys", help="Data-encryption keys for captured personal data.")


@keys_cli.command("status")
def keys_status():
    """Count stored values per key id; exit 1 if any is under a key that is not configured."""
    keyring = current_keyring()
    counts = rotation.counts_by_key()
    click.echo(f"newest key (encrypts new values): {keyring.newest_id}")
    missing = False
    for key_id in (*keyring.ids, *sorted(set(counts) - set(keyring.ids))):
        if key_id == keyring.newest_id:
            note = "newest"
        elif key_id in keyring.ids:
            note = "older, still decrypts"
        else:
            note = "NOT CONFIGURED: these values cannot be read"
            missing = True
        click.echo(f"{key_id:32} {counts.get(key_id, 0):>10}  {note}")
    pending = sum(n for key_id, n in counts.items() if key_id != keyring.newest_id)
    click.echo(
        f"{pending} value(s) under older keys: run `flask keys rotate`"
        if pending
        else "every value is under the newest key"
    )
    if missing:
        sys.exit(1)


@keys_cli.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None)
def keys_rotate(batch_size):
    """Re-encrypt every value under the newest key (safe beside live traffic; idempotent)."""
    size = batch_size or current_app.config["DATA_KEY_ROTATION_BATCH"]
    result = rotation.rotate(size, actor=audit.CLI)
    click.echo(
        f"re-encrypted under {result.newest_key_id}: {result.rotated} value(s); "
        f"examined {result.examined}, already done or erased meanwhile {result.skipped}, "
        f"failed {len(result.failed_ids)}"
    )
    if result.failed_ids:
        shown = ", ".join(str(i) for i in result.failed_ids[:20])
        click.echo(f"could not decrypt captured_values ids: {shown}", err=True)
        sys.exit(1)


@keys_cli.command("generate")
@click.option("--id", "key_id", default=None, help="Key id (default: k<yyyymmdd>).")
def keys_generate(key_id):
    """Print a new random key as key_id:base64, to put FIRST in POSTERN_DATA_ENCRYPTION_KEYS."""
    key_id = key_id or f"k{utcnow():%Y%m%d}"
    click.echo(f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}")
