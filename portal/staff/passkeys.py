"""Passkeys (WebAuthn, with the ``webauthn`` library): register, sign in, rename, remove.

Knows nothing of HTTP: views hand over the browser's JSON and the ceremony token from the
cookie. The relying party is this site: its ID is the host of PUBLIC_BASE_URL and the only
origin accepted is that URL's scheme, host and port, so a passkey made for Postern answers
nowhere else (phishing resistance). Challenges live on the server (``passkey_challenges``).

Each passkey counts as a second factor. User verification (the device's PIN or biometric) is
required when a passkey is made and when it signs someone in without a password, so such a
sign-in proves two factors by itself. Every outcome is audited; a refused passkey says why.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select
from webauthn import (
    generate_registration_options,
    options_to_json,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal import audit
from portal.card_numbers import contains_pan
from portal.extensions import db
from portal.i18n import N_
from portal.models.passkey import Passkey
from portal.models.staff import StaffSession, StaffUser
from portal.models.types import utcnow
from portal.security.redaction import scrub_stored_text
from portal.staff import passkey_challenges

NAME_LENGTH = 60
#: What the browser is told a ceremony may take (milliseconds).
TIMEOUT_MS = 60_000


class PasskeyError(ValueError):
    """A passkey ceremony or change was refused; the message is a plain sentence to show."""


TRY_AGAIN = N_("That passkey could not be checked. Try again.")


@dataclass(frozen=True)
class Options:
    """What the browser needs to start a ceremony: the options as JSON, and the token naming
    its challenge (for the session cookie)."""

    json: str
    token: str


#: A passkey is a lasting way in, so it may be added only this soon after the person proved
#: who they are (signing in, or confirming it is them for a sensitive action): never by
#: whoever finds a screen left signed in.
ADD_WITHIN = timedelta(minutes=10)
ADD_NEEDS_RECENT_SIGN_IN = N_(
    "For your security, a passkey can be added only within 10 minutes of signing in. "
    "Sign out, sign in again, then add it."
)


def may_add(row: StaffSession, now: datetime | None = None) -> bool:
    """True if the session ``row`` proved its owner recently enough to add a passkey."""
    now = now or utcnow()
    proven = (row.authenticated_at, row.reauthenticated_at)
    return any(when is not None and timedelta(0) <= now - when <= ADD_WITHIN for when in proven)


def relying_party() -> tuple[str, str]:
    """(RP ID, expected origin), both from PUBLIC_BASE_URL: e.g. ("pay.example.co.uk",
    "https://pay.example.co.uk")."""
    parts = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def passkeys_of(user_id: int) -> list[Passkey]:
    return list(
        db.session.execute(
            select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
        ).scalars()
    )


def owners() -> set[int]:
    """The ids of the accounts that have at least one passkey."""
    return set(db.session.execute(select(Passkey.user_id).distinct()).scalars())


def clean_name(name: str | None) -> str:
    """The passkey's name as stored: spaces tidied, at most NAME_LENGTH characters. Raises
    PasskeyError for an empty name or one holding a card number."""
    if contains_pan(name):  # before scrubbing, which would mask it
        raise PasskeyError(N_("Do not put a card number in a passkey's name."))
    text = " ".join((scrub_stored_text(name or "", 500) or "").split())
    if not text or len(text) > NAME_LENGTH:
        raise PasskeyError(f"Give the passkey a name of 1 to {NAME_LENGTH} characters.")
    return text


# --- registration -------------------------------------------------------------------------


def registration_options(user: StaffUser) -> Options:
    """Start registering a passkey for ``user``. Caller commits."""
    existing = passkeys_of(user.id)
    issued = passkey_challenges.issue("register", user.id)
    handle = existing[0].user_handle if existing else _first_handle(issued.challenge)
    rp_id, _ = relying_party()
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=current_app.config["ORG_NAME"],
        user_name=user.username,
        user_id=handle,
        user_display_name=user.display_name or user.username,
        challenge=issued.challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id) for p in existing],
    )
    return Options(options_to_json(options), issued.token)


def register(
    user: StaffUser, token: str | None, credential: dict, name: str, *, actor: audit.Actor
) -> Passkey:
    """Check the browser's answer to ``registration_options`` and store the new passkey.
    Raises PasskeyError (audited as ``auth.passkey_registration_failed``). Caller commits."""
    taken = passkey_challenges.take(token, "register")
    try:
        name = clean_name(name)
        if taken is None or taken.user_id != user.id:
            raise PasskeyError(N_("The passkey took too long to set up. Try again."))
        rp_id, origin = relying_party()
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=taken.challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as problem:
            raise PasskeyError(TRY_AGAIN) from problem
        known = select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
        if db.session.execute(known).first() is not None:
            raise PasskeyError(N_("That passkey is already registered."))
    except PasskeyError as refused:
        audit_failure("auth.passkey_registration_failed", user.id, str(refused), actor)
        raise
    existing = passkeys_of(user.id)
    handle = existing[0].user_handle if existing else _first_handle(taken.challenge)
    passkey = Passkey(
        user_id=user.id,
        name=name,
        credential_id=verified.credential_id,
        user_handle=handle,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid or ""),
        transports=",".join(_transports(credential))[:120],
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        created_at=utcnow(),
    )
    db.session.add(passkey)
    db.session.flush()
    audit.record(
        "auth.passkey_registered",
        target_type="staff_user",
        target_id=user.id,
        details={
            "passkey": passkey.id,
            "backup_eligible": passkey.backup_eligible,
            "backed_up": passkey.backed_up,
        },
        actor=actor,
    )
    return passkey


def _first_handle(challenge: bytes) -> bytes:
    """The user handle of a person's first passkey: random (drawn from the ceremony's random
    challenge, which the server keeps, so the options and the check agree without storing
    it twice) and unrelated to their username or id. Later passkeys reuse the stored one."""
    return hashlib.sha256(b"postern passkey user handle:" + challenge).digest()


def _transports(credential: dict) -> list[str]:
    response = credential.get("response") if isinstance(credential, dict) else None
    found = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, str) and item.isalnum()][:6]


def audit_failure(action: str, user_id: int | None, reason: str, actor: audit.Actor) -> None:
    audit.record(
        action,
        outcome="failure",
        target_type="staff_user" if user_id is not None else None,
        target_id=user_id,
        details={"reason": reason},
        actor=actor,
    )


# --- the person's own list ------------------------------------------------------------------


def _own(user: StaffUser, passkey_id: int) -> Passkey:
    passkey = db.session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise LookupError(passkey_id)
    return passkey


def rename(user: StaffUser, passkey_id: int, name: str, *, actor: audit.Actor) -> Passkey:
    """Give one of ``user``'s passkeys a new name. Raises LookupError (not theirs) or
    PasskeyError (bad name). Caller commits."""
    passkey = _own(user, passkey_id)
    passkey.name = clean_name(name)
    audit.record(
        "auth.passkey_renamed",
        target_type="staff_user",
        target_id=user.id,
        details={"passkey": passkey.id},
        actor=actor,
    )
    return passkey


def remove(user: StaffUser, passkey_id: int, *, actor: audit.Actor) -> None:
    """Remove one of ``user``'s passkeys. Raises LookupError (not theirs). Caller commits."""
    passkey = _own(user, passkey_id)
    db.session.delete(passkey)
    db.session.flush()
    audit.record(
        "auth.passkey_removed",
        target_type="staff_user",
        target_id=user.id,
        details={"passkey": passkey_id, "remaining": len(passkeys_of(user.id))},
        actor=actor,
    )


def remove_all(user_id: int) -> int:
    """Remove every passkey of ``user_id`` (an administrator's reset of the second factor);
    returns how many. Caller audits and commits."""
    return db.session.execute(delete(Passkey).where(Passkey.user_id == user_id)).rowcount or 0
