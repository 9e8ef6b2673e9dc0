"""TOTP second factor (RFC 6238 through pyotp), single-use recovery codes, and re-sealing the
TOTP seeds under the newest data key.

A seed is stored sealed with the data keyring (``StaffUser.totp_secret``, through
``portal.models.sealed_secret``) and decrypted only here: to check a code or draw the QR code.
"""

from __future__ import annotations

import io
import logging
import secrets
import time
from dataclasses import dataclass, field

import pyotp
import segno
from flask import current_app
from sqlalchemy import func, or_, select, update

from config.keyring import UnknownKeyError
from portal.extensions import db
from portal.models.sealed_secret import (
    SealedSecretError,
    SealedSeed,
    app_keyring,
    seal_seed,
    unseal_seed,
)
from portal.models.staff import RecoveryCode, StaffUser
from portal.models.types import utcnow
from portal.security import passwords

log = logging.getLogger("portal.staff")

RECOVERY_CODE_COUNT = 10
#: Accept the code of the previous and next 30-second step too: phone clocks drift.
VALID_WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: StaffUser) -> str:
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.username, issuer_name=current_app.config["MFA_ISSUER"]
    )


def qr_svg(user: StaffUser) -> bytes:
    """The enrolment QR code as a standalone SVG document (no script, no inline style)."""
    buffer = io.BytesIO()
    segno.make(provisioning_uri(user), error="m").save(
        buffer, kind="svg", scale=5, dark="#111", light="#fff", xmldecl=False
    )
    return buffer.getvalue()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    totp = pyotp.TOTP(secret)
    step_now = int(now // totp.interval)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = step_now + offset
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def verify_totp(user: StaffUser, code: str) -> bool:
    """True if ``code`` is valid now and has not been used before (no replay). Caller commits.

    The last accepted time step is advanced with a conditional UPDATE, so the same code
    submitted twice at once is accepted only once.
    """
    code = "".join(ch for ch in code if ch.isdigit())
    if not user.totp_secret or len(code) != 6:
        return False
    step = _matching_step(user.totp_secret, code, time.time())
    if step is None:
        return False
    result = db.session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return result.rowcount == 1


def _format_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def issue_recovery_codes(user: StaffUser) -> list[str]:
    """Replace the user's recovery codes with new ones; return them (shown once). Caller commits."""
    db.session.query(RecoveryCode).filter_by(user_id=user.id).delete()
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = [
        _format_code("".join(secrets.choice(alphabet) for _ in range(10)))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    fast = current_app.config.get("ARGON2_FAST", False)
    for position, code in enumerate(codes):
        db.session.add(
            RecoveryCode(
                user_id=user.id,
                position=position,
                code_hash=passwords.hash_password(code, fast=fast),
            )
        )
    return codes


def use_recovery_code(user: StaffUser, code: str) -> bool:
    """True if ``code`` is one of the user's unused recovery codes; it is then spent."""
    code = code.strip().lower().replace(" ", "")
    if len(code) == 10:
        code = _format_code(code)
    candidates = db.session.execute(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).scalars()
    for candidate in candidates:
        if passwords.verify_password(candidate.code_hash, code):
            spent = db.session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == candidate.id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
            )
            return spent.rowcount == 1
    return False


def remaining_recovery_codes(user: StaffUser) -> int:
    return db.session.query(RecoveryCode).filter_by(user_id=user.id, used_at=None).count()


def reset(user: StaffUser) -> None:
    """Remove the second factor entirely (admin action). Caller audits and commits."""
    user.totp_secret = None
    user.mfa_enabled = False
    user.totp_last_step = None
    db.session.query(RecoveryCode).filter_by(user_id=user.id).delete()


@dataclass
class SeedRotation:
    """What ``reseal_seeds`` did."""

    newest_key_id: str
    examined: int = 0
    resealed: int = 0
    #: Seeds that changed under us (re-enrolled, reset, or re-sealed by another run).
    skipped: int = 0
    #: Staff ids whose seed could not be decrypted (altered, or its key is not configured).
    failed_ids: list[int] = field(default_factory=list)


def seeds_by_key() -> dict[str, int]:
    """How many TOTP seeds each data key id seals."""
    rows = db.session.execute(
        select(StaffUser.totp_key_id, func.count())
        .where(StaffUser.totp_key_id.is_not(None))
        .group_by(StaffUser.totp_key_id)
    ).all()
    return {key_id: int(count) for key_id, count in rows}


def reseal_seeds() -> SeedRotation:
    """Re-seal every TOTP seed not under the newest data key; commits. Each row is written back
    only if its seal is still the one read (``WHERE id AND key_id AND nonce``), so an
    enrolment or a reset meanwhile is never overwritten, and a second run finishes the job.
    The caller audits."""
    keyring = app_keyring()
    result = SeedRotation(keyring.newest_id)
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.totp_key_id, StaffUser.totp_nonce, StaffUser.totp_ciphertext)
        .where(StaffUser.totp_ciphertext.is_not(None), StaffUser.totp_key_id != keyring.newest_id)
        .order_by(StaffUser.id)
    ).all()
    for user_id, key_id, nonce, ciphertext in rows:
        result.examined += 1
        try:
            seed = unseal_seed(keyring, user_id, SealedSeed(key_id, nonce, ciphertext))
        except (SealedSecretError, UnknownKeyError) as problem:
            result.failed_ids.append(user_id)
            log.error("data key rotation: TOTP seed not re-sealed: %s", problem)
            continue
        fresh = seal_seed(keyring, user_id, seed)
        changed = db.session.execute(
            update(StaffUser)
            .where(
                StaffUser.id == user_id,
                StaffUser.totp_key_id == key_id,
                StaffUser.totp_nonce == nonce,
            )
            .values(
                totp_key_id=fresh.key_id, totp_nonce=fresh.nonce, totp_ciphertext=fresh.ciphertext
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed == 1:
            result.resealed += 1
        else:
            result.skipped += 1
    db.session.commit()
    return result
