"""Who a verified ID token is, what it grants, and whether it proves a second factor.

Runs after Authlib has checked the token (signature by the provider's published keys, issuer,
audience, expiry, ``nonce``): this module decides, from its claims alone, and records every
decision in the audit trail. It knows nothing of HTTP.

- A person is found by the link (issuer + subject) made at their first sign-in. Without one,
  an existing account is matched once (verified email or username, per provider) and linked;
  with just-in-time provisioning on, an account is created instead when none matches.
- Role and team come from the groups claim through the provider's mapping table, at EVERY
  sign-in: a group taken away at the provider takes the role away at the next sign-in, and a
  person left with no mapped group is refused and their live sessions end.
- The provider's ``amr`` (RFC 8176) or ``acr`` may say it proved a second factor; if not,
  Postern asks for its own (the usual TOTP step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from config.sso import SsoProvider
from portal import audit
from portal.extensions import db
from portal.i18n import N_
from portal.models.single_sign_on import SsoIdentity
from portal.models.staff import StaffUser
from portal.models.types import utcnow
from portal.security import sessions
from portal.sso.client import is_break_glass
from portal.staff import accounts, login

#: What a refused person is told; the audit row carries the reason code.
REFUSALS = {
    "no_mapped_group": N_(
        "Your organisation has not given you access to Postern. Ask your administrator to "
        "add you to the right group."
    ),
    "no_account": N_(
        "There is no Postern account for you yet. Ask a Postern administrator to create one."
    ),
    "ambiguous_account": N_(
        "More than one Postern account matches you. Ask a Postern administrator to fix this."
    ),
    "account_linked_elsewhere": N_(
        "Your Postern account is already linked to another sign-in. Ask a Postern "
        "administrator to fix this."
    ),
    "username_taken": N_(
        "Postern could not create your account because its username is taken. Ask a Postern "
        "administrator to fix this."
    ),
    "account_disabled": N_("This account has been disabled."),
    "claims_missing": N_(
        "Your organisation's sign-in service did not say who you are. Ask your administrator."
    ),
    "break_glass_account": N_(
        "This Postern account is for emergencies and cannot be used through your "
        "organisation's account."
    ),
}

_USERNAME_LENGTH = 64
_MAPPED_GROUPS_LENGTH = 1000


class SignInRefused(Exception):
    """The provider vouched for the person, but Postern will not let them in. ``reason`` is a
    key of REFUSALS; the refusal has been audited (the caller commits)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        return REFUSALS[self.reason]


@dataclass(frozen=True)
class SignIn:
    user: StaffUser
    identity: SsoIdentity
    #: The provider says it proved a second factor (amr/acr), so Postern asks for none.
    mfa_by_provider: bool
    #: The provider's session id (``sid``), for its back-channel logout.
    provider_sid: str | None


def linked_to_a_provider(user_id: int) -> bool:
    """True if the account signs in through an identity provider (it has a linked identity):
    its role is the provider's to give at every sign-in, so no way in may skip the provider."""
    return (
        db.session.execute(
            select(SsoIdentity.id).where(SsoIdentity.user_id == user_id).limit(1)
        ).first()
        is not None
    )


def provider_actor(provider: SsoProvider, origin: audit.ClientOrigin) -> audit.Actor:
    """The audit actor of what a provider's word changes here (accounts made, roles changed)."""
    return audit.Actor(f"sso:{provider.name}", origin=origin)


def groups_of(claims: Mapping[str, Any], claim: str) -> set[str]:
    """The groups in ``claim``: a list of strings (Entra ID, Okta) or one string. Anything
    else (an object, such as Entra ID's group overage pointer) holds no groups: iterating it
    would read its keys as group names. Names are compared exactly, case included."""
    value = claims.get(claim)
    if isinstance(value, str):
        return {value}
    if isinstance(value, (list, tuple)):
        return {item for item in value if isinstance(item, str)}
    return set()


def mfa_proven(provider: SsoProvider, claims: Mapping[str, Any]) -> bool:
    amr = claims.get("amr")
    methods = {amr} if isinstance(amr, str) else set(amr or ())
    if methods & set(provider.mfa_amr):
        return True
    return bool(provider.mfa_acr) and claims.get("acr") in provider.mfa_acr


def sign_in(
    provider: SsoProvider, claims: Mapping[str, Any], *, origin: audit.ClientOrigin
) -> SignIn:
    """Decide who ``claims`` (a verified ID token's, from ``provider``) is and what they may
    do, applying the mapping. Raises SignInRefused (audited). Caller commits."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not subject:
        _refuse(provider, "claims_missing", origin)
    groups = groups_of(claims, provider.groups_claim)
    rule = provider.rule_for(groups)
    identity = db.session.execute(
        select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)
    ).scalar_one_or_none()
    if identity is None:
        identity = _first_sign_in(provider, claims, rule, origin)
    user = identity.user
    if is_break_glass(user.username):
        # Linked before it was named break-glass: the provider must not change or end it.
        _refuse(provider, "break_glass_account", origin, user=user)
    if not user.is_active:
        _refuse(provider, "account_disabled", origin, user=user)
    if rule is None:
        # The provider no longer grants anything: refuse, and end what is still signed in.
        ended = sessions.end_user_sessions(user.id, "sso_access_removed")
        audit.record(
            "sso.access_removed",
            outcome="failure",
            target_type="staff_user",
            target_id=user.id,
            details={"provider": provider.name, "role": user.role, "sessions_ended": ended},
            actor=provider_actor(provider, origin),
        )
        _refuse(provider, "no_mapped_group", origin, user=user)
    actor = provider_actor(provider, origin)
    accounts.set_role(user, rule.role, actor=actor)  # audited; ends sessions if it changed
    accounts.set_team(user, rule.team, actor=actor)
    known = {entry.group for entry in provider.mapping}
    identity.mapped_groups = ",".join(sorted(groups & known))[:_MAPPED_GROUPS_LENGTH] or None
    identity.last_login_at = utcnow()
    sid = claims.get("sid")
    return SignIn(
        user=user,
        identity=identity,
        mfa_by_provider=mfa_proven(provider, claims),
        provider_sid=sid if isinstance(sid, str) and sid else None,
    )


def _first_sign_in(provider, claims, rule, origin) -> SsoIdentity:
    """Link the person to the account they match, or (JIT) to a new one."""
    user = _matching_account(provider, claims, origin)
    if user is not None and is_break_glass(user.username):
        # The emergency account never gets a link: whoever controls a matching email or
        # username at the provider would otherwise take it over (and the provider's groups
        # would set its role, or end its sessions).
        _refuse(provider, "break_glass_account", origin, user=user)
    if user is None:
        if not provider.jit:
            _refuse(provider, "no_account", origin)
        if rule is None:
            _refuse(provider, "no_mapped_group", origin)
        user = _provision(provider, claims, rule, origin)
    elif db.session.scalar(
        select(func.count()).select_from(SsoIdentity).where(SsoIdentity.user_id == user.id)
    ):
        # The account already belongs to ANOTHER subject, of this provider or of another one:
        # an address that changed hands, or a second provider vouching for the same address,
        # must not hand over an account someone already signs in to.
        _refuse(provider, "account_linked_elsewhere", origin, user=user)
    identity = SsoIdentity(
        user=user, provider=provider.name, issuer=claims["iss"], subject=claims["sub"]
    )
    db.session.add(identity)
    db.session.flush()
    audit.record(
        "sso.identity_linked",
        target_type="staff_user",
        target_id=user.id,
        details={"provider": provider.name, "matched_by": provider.match_by},
        actor=provider_actor(provider, origin),
    )
    return identity


def _matching_account(provider, claims, origin) -> StaffUser | None:
    if provider.match_by == "email":
        email = claims.get("email")
        # Only an address the provider has verified: anyone can type one into a profile.
        if not isinstance(email, str) or claims.get("email_verified") is not True:
            return None
        condition = func.lower(StaffUser.email) == email.strip().lower()
    else:
        username = claims.get(provider.username_claim)
        if not isinstance(username, str):
            return None
        condition = StaffUser.username == login.normalise_username(username)
    found = list(db.session.execute(select(StaffUser).where(condition).limit(2)).scalars())
    if len(found) > 1:
        _refuse(provider, "ambiguous_account", origin)
    return found[0] if found else None


def _provision(provider, claims, rule, origin) -> StaffUser:
    """A new account, made from the provider's word (just-in-time provisioning): no password
    (an unusable hash), so it signs in only through the provider."""
    verified_email = claims.get("email") if claims.get("email_verified") is True else None
    username = claims.get(provider.username_claim) or verified_email
    if not isinstance(username, str) or not username.strip():
        _refuse(provider, "claims_missing", origin)
    username = login.normalise_username(username)[:_USERNAME_LENGTH]
    if is_break_glass(username):
        # Not yet created, or renamed: the provider must not claim the emergency name.
        _refuse(provider, "break_glass_account", origin)
    if login.username_taken(username):
        _refuse(provider, "username_taken", origin)
    name = claims.get("name")
    email = verified_email
    user = StaffUser(
        username=username,
        display_name=(name if isinstance(name, str) and name.strip() else username)[:120],
        email=email if isinstance(email, str) else None,
        role=rule.role,
        team=accounts.get_or_create_team(rule.team),
        password_hash="!",  # noqa: S106  (never verifies: this account has no password)
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "staff.created",
        target_type="staff_user",
        target_id=user.id,
        details={"role": user.role, "team": rule.team, "provisioned_by": provider.name},
        actor=provider_actor(provider, origin),
    )
    return user


def _refuse(provider, reason: str, origin, *, user: StaffUser | None = None):
    audit.record(
        "sso.sign_in_refused",
        outcome="failure",
        target_type="staff_user" if user is not None else None,
        target_id=user.id if user is not None else None,
        details={"provider": provider.name, "reason": reason},
        actor=audit.Actor.staff(user, origin) if user is not None else audit.ANONYMOUS.at(origin),
    )
    raise SignInRefused(reason)
