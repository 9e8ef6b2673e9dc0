"""Re-authentication through the identity provider: "confirm it's you" before a sensitive
action, for an account that signs in through single sign-on (it may have no Postern password).

The person is sent to their provider with ``prompt=login`` and ``max_age=0`` (OpenID Connect
Core 3.1.2.1): the provider must ask them to sign in again, whatever session it still has.
The ID token that comes back is checked by Authlib like any other (signature, issuer,
audience, expiry, ``nonce``); this module then believes it as a re-authentication only if

- its ``auth_time`` is fresh (FRESH_SECONDS): a provider that ignored ``prompt=login`` answers
  with the time of an old sign-in, and that proves nothing about who is at the keyboard now;
- it names the signed-in person: its issuer and subject are the identity linked to their
  account (someone else signing in at the provider in the same browser proves nothing);
- the provider still grants the role the person has (the mapping, as at sign-in). With no
  mapped group left, their sessions end, as they would at sign-in.

If the provider also proved a second factor (``amr``/``acr``, the rule of sign-in), the session
is re-authenticated at once; otherwise Postern's own second factor is asked next: the
authenticator-app code or a passkey (user verified).
Either way the session is stamped exactly as the password path stamps it
(``portal.staff.reauth.mark_reauthenticated``), with the factor in the audit row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from config.sso import SsoProvider
from portal import audit
from portal.extensions import db
from portal.i18n import N_
from portal.models.single_sign_on import SsoIdentity, SsoSession
from portal.models.staff import StaffSession, StaffUser
from portal.models.types import utcnow
from portal.security import sessions
from portal.sso.client import password_sign_in_allowed, provider_named
from portal.sso.signin import groups_of, mfa_proven, provider_actor
from portal.staff import login, mfa
from portal.staff.reauth import (
    ReauthOutcome,
    check_passkey,
    has_usable_password,
    mark_reauthenticated,
)

#: How long ago the provider may have asked for the password: the round trip (typing it at
#: the provider, coming back) takes seconds, so a minute, and half a minute either way for
#: the two clocks.
FRESH_SECONDS = 60
CLOCK_LEEWAY_SECONDS = 30
#: How long the person has to type Postern's own code once the provider has confirmed them.
CODE_WINDOW_SECONDS = 300

#: Cookie-session keys (set and read by the views): the step-up sent to the provider, and the
#: provider's confirmation waiting for Postern's own code.
STEP_UP_KEY = "sso_reauth"
PROVEN_KEY = "sso_reauth_proven"

#: What the person is told; the audit row ``sso.reauth_refused`` carries the reason code.
REFUSALS = {
    "not_fresh": N_(
        "Your organisation's sign-in service did not ask for your password again. Try again; "
        "if it keeps happening, ask your administrator."
    ),
    "wrong_person": N_(
        "You signed in to your organisation's account as someone else. Sign in as yourself "
        "and try again."
    ),
    "role_changed": N_(
        "Your access has changed at your organisation. Sign out, then sign in again."
    ),
    "no_mapped_group": N_("Your organisation has removed your access to Postern."),
    "exchange_failed": N_(
        "Confirming with your organisation's account did not work. Please try again."
    ),
    "code_expired": N_("That took too long. Confirm with your organisation's account again."),
}


class StepUpRefused(Exception):
    """The provider's answer does not re-authenticate this person; audited (caller commits).
    ``ended`` is True when their sessions were ended (the provider grants them nothing)."""

    def __init__(self, reason: str, *, ended: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ended = ended

    @property
    def message(self) -> str:
        return REFUSALS[self.reason]


@dataclass(frozen=True)
class StepUp:
    provider: SsoProvider
    #: The provider proved a second factor: nothing more is asked.
    mfa_by_provider: bool


def provider_for(user: StaffUser, session_row: StaffSession) -> SsoProvider | None:
    """The configured provider ``user`` re-authenticates with: the one that opened this
    session, else the first configured one their account is linked to; None if none is."""
    linked = db.session.execute(
        select(SsoIdentity)
        .join(SsoSession, SsoSession.identity_id == SsoIdentity.id)
        .where(SsoSession.staff_session_id == session_row.id)
    ).scalar_one_or_none()
    identities = ([linked] if linked is not None else []) + list(
        db.session.execute(
            select(SsoIdentity).where(SsoIdentity.user_id == user.id).order_by(SsoIdentity.id)
        ).scalars()
    )
    for identity in identities:
        provider = provider_named(identity.provider)
        if provider is not None and provider.issuer == identity.issuer:
            return provider
    return None


def password_reauth_allowed(user: StaffUser) -> bool:
    """Whether the Postern password (and a code or passkey) may re-authenticate ``user``, who
    is linked to a provider: not in SSO-only mode (there the provider alone decides, as at
    sign-in), and only for an account that has a password and a second factor."""
    return (
        has_usable_password(user)
        and user.has_second_factor
        and password_sign_in_allowed(user.username)
    )


def check_step_up(
    provider: SsoProvider,
    claims: Mapping[str, Any],
    user: StaffUser,
    session_row: StaffSession,
    *,
    origin: audit.ClientOrigin,
) -> StepUp:
    """Decide whether ``claims`` (a verified ID token's, from ``provider``, asked for with
    ``prompt=login`` and ``max_age=0``) re-authenticate ``user`` in ``session_row``. When the
    provider proved a second factor too, the session is stamped (audited). Raises
    StepUpRefused (audited; with no mapped group left, every session of ``user`` is ended).
    Changes no role or team: that is sign-in's job. Caller commits."""
    auth_time = claims.get("auth_time")
    now = utcnow().timestamp()
    if (
        not isinstance(auth_time, (int, float))
        or isinstance(auth_time, bool)
        or not now - FRESH_SECONDS - CLOCK_LEEWAY_SECONDS <= auth_time <= now + CLOCK_LEEWAY_SECONDS
    ):
        refuse(provider, user, "not_fresh", origin)
    identity = db.session.execute(
        select(SsoIdentity).where(
            SsoIdentity.issuer == claims.get("iss"), SsoIdentity.subject == claims.get("sub")
        )
    ).scalar_one_or_none()
    if identity is None or identity.user_id != user.id:
        refuse(provider, user, "wrong_person", origin)
    rule = provider.rule_for(groups_of(claims, provider.groups_claim))
    if rule is None:
        ended = sessions.end_user_sessions(user.id, "sso_access_removed")
        audit.record(
            "sso.access_removed",
            outcome="failure",
            target_type="staff_user",
            target_id=user.id,
            details={"provider": provider.name, "role": user.role, "sessions_ended": ended},
            actor=provider_actor(provider, origin),
        )
        refuse(provider, user, "no_mapped_group", origin, ended=True)
    if rule.role != user.role:
        # The next sign-in applies the new role (and ends sessions): until then, nothing
        # sensitive on the strength of the old one.
        refuse(provider, user, "role_changed", origin)
    proven = mfa_proven(provider, claims)
    if proven:
        mark_reauthenticated(
            user, session_row, factor=factor(provider, "provider_mfa"), origin=origin
        )
    return StepUp(provider=provider, mfa_by_provider=proven)


def confirm_code(
    provider: SsoProvider,
    user: StaffUser,
    session_row: StaffSession,
    code: str,
    *,
    origin: audit.ClientOrigin,
) -> bool | None:
    """Postern's own authenticator-app code after the provider confirmed ``user`` without a
    second factor. True: re-authenticated (stamped, audited). False: wrong code (counted
    towards the lockout like every failed code). None: the account is locked now. COMMITS."""
    if login.is_locked(user):
        return None
    if not mfa.verify_totp(user, code or ""):
        db.session.rollback()
        locked = login.record_failure(user, "reauth_totp", origin=origin)
        return None if locked else False
    mark_reauthenticated(user, session_row, factor=factor(provider, "totp"), origin=origin)
    db.session.commit()
    return True


def confirm_passkey(
    provider: SsoProvider,
    user: StaffUser,
    session_row: StaffSession,
    token: str | None,
    credential: dict,
    *,
    origin: audit.ClientOrigin,
) -> bool | None:
    """One of ``user``'s passkeys (user verified) after the provider confirmed them without a
    second factor: as ``confirm_code``, with factor ``sso:<name>+passkey``. COMMITS."""
    if login.is_locked(user):
        return None
    outcome = check_passkey(user, token, credential, origin=origin)
    if outcome is ReauthOutcome.LOCKED:
        return None
    if outcome is not ReauthOutcome.OK:
        return False
    mark_reauthenticated(user, session_row, factor=factor(provider, "passkey"), origin=origin)
    db.session.commit()
    return True


def factor(provider: SsoProvider, second: str) -> str:
    """The ``factor`` of the audit row: ``sso:<name>+provider_mfa``, ``sso:<name>+totp`` or
    ``sso:<name>+passkey``."""
    return f"sso:{provider.name}+{second}"


def refuse(
    provider: SsoProvider, user: StaffUser | None, reason: str, origin, *, ended: bool = False
):
    """Audit ``sso.reauth_refused`` and raise StepUpRefused. Caller commits."""
    audit.record(
        "sso.reauth_refused",
        outcome="failure",
        target_type="staff_user" if user is not None else None,
        target_id=user.id if user is not None else None,
        details={"provider": provider.name, "reason": reason[:80]},
        actor=audit.Actor.staff(user, origin) if user is not None else audit.ANONYMOUS.at(origin),
    )
    raise StepUpRefused(reason if reason in REFUSALS else "exchange_failed", ended=ended)
