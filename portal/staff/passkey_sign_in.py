"""Signing in with a passkey: as the second factor after the password, or alone (passwordless,
where PASSKEY_SIGN_IN allows it). The relying party, the stored passkeys and the challenges
are ``portal.staff.passkeys``'s and ``portal.staff.passkey_challenges``'s.

A sign counter that does not move forward (when the authenticator keeps one) is refused: it is
the mark of a cloned authenticator. Every outcome is audited; a refusal says why.
"""

from __future__ import annotations

from sqlalchemy import select, update
from webauthn import (
    generate_authentication_options,
    options_to_json,
    verify_authentication_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

from portal import audit
from portal.extensions import db
from portal.models.passkey import Passkey
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from portal.staff import passkey_challenges, passkeys
from portal.staff.passkeys import TIMEOUT_MS, TRY_AGAIN, Options, PasskeyError, relying_party

#: Ceremonies where the passkey must prove user verification (the device's PIN or biometric):
#: passwordless sign-in, where it is both factors, and re-authentication, where it stands for
#: the person at the keyboard now, not merely for a device left plugged in.
VERIFIED_PURPOSES = frozenset({"sign_in", "reauth"})


def authentication_options(purpose: str, user: StaffUser | None = None) -> Options:
    """Start a sign-in with a passkey: ``"second_factor"`` for ``user`` (any of their
    passkeys), ``"reauth"`` for ``user`` (the same, user verification required), or
    ``"sign_in"`` without a password (any discoverable passkey; user verification required).
    Caller commits."""
    issued = passkey_challenges.issue(purpose, user.id if user is not None else None)
    rp_id, _ = relying_party()
    allowed = None
    if user is not None:
        allowed = [
            PublicKeyCredentialDescriptor(id=passkey.credential_id)
            for passkey in passkeys.passkeys_of(user.id)
        ]
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=issued.challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if purpose in VERIFIED_PURPOSES
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return Options(options_to_json(options), issued.token)


class PasskeyRefused(PasskeyError):
    """A sign-in with a passkey failed. ``user_id`` is whose passkey it was, when known (the
    caller counts the failure towards that account's lockout)."""

    def __init__(self, message: str, reason: str, user_id: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.user_id = user_id


def authenticate(
    token: str | None,
    credential: dict,
    purpose: str,
    *,
    user: StaffUser | None = None,
    origin: audit.ClientOrigin,
) -> Passkey:
    """Check the browser's answer to ``authentication_options`` and return the passkey used,
    its sign counter and backup state updated and ``auth.passkey_used`` audited. Raises
    PasskeyRefused, audited as ``auth.passkey_refused`` with the reason. Caller commits.

    A sign counter that does not move forward (when the authenticator keeps one) is refused:
    it is the sign of a cloned authenticator. The counter is advanced with a conditional
    UPDATE, so one signed answer cannot be accepted twice even by two processes at once.
    """
    try:
        passkey = _check(token, credential, purpose, user)
    except PasskeyRefused as refused:
        owner = db.session.get(StaffUser, refused.user_id) if refused.user_id else None
        actor = audit.Actor.staff(owner, origin) if owner else audit.ANONYMOUS.at(origin)
        passkeys.audit_failure("auth.passkey_refused", refused.user_id, refused.reason, actor)
        raise
    owner = db.session.get(StaffUser, passkey.user_id)
    audit.record(
        "auth.passkey_used",
        target_type="staff_user",
        target_id=passkey.user_id,
        details={"passkey": passkey.id, "purpose": purpose, "backed_up": passkey.backed_up},
        actor=audit.Actor.staff(owner, origin),
    )
    return passkey


def _check(token: str | None, credential: dict, purpose: str, user: StaffUser | None) -> Passkey:
    expected_user = user.id if user is not None else None
    taken = passkey_challenges.take(token, purpose)
    if taken is None or taken.user_id != expected_user:
        raise PasskeyRefused(
            "The sign-in took too long. Try again.", "challenge_expired", expected_user
        )
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError) as problem:
        raise PasskeyRefused(TRY_AGAIN, "malformed", expected_user) from problem
    passkey = db.session.execute(
        select(Passkey).where(Passkey.credential_id == parsed.raw_id)
    ).scalar_one_or_none()
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise PasskeyRefused(
            "That passkey is not registered for this account.", "unknown_passkey", expected_user
        )
    handle = parsed.response.user_handle
    if handle is not None and handle != passkey.user_handle:
        raise PasskeyRefused(TRY_AGAIN, "user_handle_mismatch", passkey.user_id)
    rp_id, origin = relying_party()
    try:
        # The counter is compared below, so that a clone is told apart from a bad signature.
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=taken.challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=purpose in VERIFIED_PURPOSES,
        )
    except (WebAuthnException, ValueError, TypeError) as problem:
        raise PasskeyRefused(TRY_AGAIN, "not_verified", passkey.user_id) from problem
    stored, new = passkey.sign_count, verified.new_sign_count
    if (stored > 0 or new > 0) and new <= stored:
        raise PasskeyRefused(
            "That passkey was refused: it may have been copied. Use another way to sign in and "
            "tell your administrator.",
            "counter_went_backwards",
            passkey.user_id,
        )
    moved = db.session.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id, Passkey.sign_count == stored)
        .values(sign_count=new, backed_up=verified.credential_backed_up, last_used_at=utcnow())
    ).rowcount
    if not moved:  # another request used the same counter value first
        raise PasskeyRefused(TRY_AGAIN, "counter_raced", passkey.user_id)
    db.session.refresh(passkey)
    return passkey
