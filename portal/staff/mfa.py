"""TOTP second factor (RFC 6238 through pyotp) and single-use recovery codes."""

from __future__ import annotations

import io
import secrets
import time

import pyotp
import segno
from flask import current_app
from sqlalchemy import or_, select, update

from portal.extensions import db
from portal.models.staff import RecoveryCode, StaffUser
from portal.models.types import utcnow
from portal.security import passwords

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
