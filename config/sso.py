"""Single sign-on providers as settings: POSTERN_SSO_PROVIDERS, parsed and checked once, at start.

The variable holds a JSON list, one object per OpenID Provider (docs/single-sign-on.md):

    [{"name": "entra", "label": "Sign in with Microsoft",
      "issuer": "https://login.microsoftonline.com/<tenant>/v2.0",
      "client_id": "...", "client_secret_env": "POSTERN_SSO_ENTRA_SECRET",
      "groups_claim": "groups", "match_by": "email", "jit": false,
      "mfa_amr": ["mfa"], "mfa_acr": [],
      "mapping": [{"group": "<group id>", "role": "backoffice", "team": null}, ...]}]

``mapping`` is the one table from the provider's groups to Postern's roles and teams: the
FIRST entry whose group the person holds decides both, so its order is a priority order and
nothing is merged or guessed. A person holding none of the listed groups is refused.

Nothing here imports portal/: the role names are passed in by the caller.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: ``amr`` values (RFC 8176) that say the provider itself proved more than a password.
DEFAULT_MFA_AMR = ("mfa", "otp", "hwk", "swk", "sc", "fido", "face", "fpt", "iris", "retina")
#: How an existing account is found for a person the provider vouches for, when it has no link
#: yet: by the email claim (verified only) or by the username claim.
MATCH_BY = ("email", "username")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class SsoConfigError(ValueError):
    """POSTERN_SSO_PROVIDERS cannot be used; the message names the field, never a secret."""


@dataclass(frozen=True)
class GroupRule:
    group: str
    role: str
    team: str | None = None


@dataclass(frozen=True)
class SsoProvider:
    name: str
    label: str
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid email profile"
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    match_by: str = "email"
    jit: bool = False
    mfa_amr: tuple[str, ...] = DEFAULT_MFA_AMR
    mfa_acr: tuple[str, ...] = ()
    mapping: tuple[GroupRule, ...] = ()

    def rule_for(self, groups: Iterable[str]) -> GroupRule | None:
        """The first mapping entry whose group is among ``groups``; None when none is."""
        held = set(groups)
        return next((rule for rule in self.mapping if rule.group in held), None)


def resolve_providers(settings: dict) -> None:
    """Replace the SSO_PROVIDERS text in ``settings`` by the providers it describes (done once,
    as the settings load). Raises SsoConfigError."""
    value = settings.get("SSO_PROVIDERS")
    if isinstance(value, tuple) and all(isinstance(item, SsoProvider) for item in value):
        return
    if isinstance(value, (list, tuple)):  # a test's override, as the JSON would decode
        value = json.dumps(list(value))
    settings["SSO_PROVIDERS"] = parse_providers(value or "")


def parse_providers(
    text: str | None,
    *,
    roles: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[SsoProvider, ...]:
    """The providers POSTERN_SSO_PROVIDERS describes (empty text: none). ``roles``, when given,
    are the role names a mapping may grant (Postern's own check passes them at start-up).
    Raises SsoConfigError."""
    environ = os.environ if environ is None else environ
    if not text or not text.strip():
        return ()
    try:
        raw = json.loads(text)
    except ValueError:
        raise SsoConfigError("POSTERN_SSO_PROVIDERS is not valid JSON") from None
    if not isinstance(raw, list):
        raise SsoConfigError("POSTERN_SSO_PROVIDERS must be a JSON list of providers")
    known_roles = set(roles) if roles is not None else None
    providers, names = [], set()
    for position, entry in enumerate(raw, start=1):
        provider = _provider(entry, position, known_roles, environ)
        if provider.name in names:
            raise SsoConfigError(f"POSTERN_SSO_PROVIDERS: the name {provider.name!r} is used twice")
        names.add(provider.name)
        providers.append(provider)
    return tuple(providers)


def _provider(
    entry, position: int, roles: set[str] | None, environ: Mapping[str, str]
) -> SsoProvider:
    where = f"POSTERN_SSO_PROVIDERS entry {position}"
    if not isinstance(entry, dict):
        raise SsoConfigError(f"{where} must be a JSON object")

    def text(key: str, default: str | None = None) -> str:
        value = entry.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise SsoConfigError(f"{where}: {key!r} must be a non-empty string")
        return value.strip()

    name = text("name")
    if not _NAME.match(name):
        raise SsoConfigError(f"{where}: 'name' must be lower-case letters, digits and hyphens")
    where = f"POSTERN_SSO_PROVIDERS provider {name!r}"
    issuer = text("issuer").rstrip("/")
    discovery = entry.get("discovery_url") or f"{issuer}/.well-known/openid-configuration"
    secret = entry.get("client_secret")
    secret_env = entry.get("client_secret_env")
    if secret_env:
        secret = environ.get(str(secret_env), "")
        if not secret:
            raise SsoConfigError(
                f"{where}: the variable {secret_env} named by 'client_secret_env' is not set"
            )
    if not isinstance(secret, str) or not secret:
        raise SsoConfigError(f"{where}: set 'client_secret_env' (or 'client_secret')")
    match_by = text("match_by", "email")
    if match_by not in MATCH_BY:
        raise SsoConfigError(f"{where}: 'match_by' must be one of {', '.join(MATCH_BY)}")
    mapping = tuple(_rule(item, where, roles) for item in entry.get("mapping") or ())
    if not mapping:
        raise SsoConfigError(f"{where}: 'mapping' must list at least one group and its role")
    return SsoProvider(
        name=name,
        label=text("label", f"Sign in with {name}"),
        issuer=issuer,
        discovery_url=str(discovery),
        client_id=text("client_id"),
        client_secret=secret,
        scopes=text("scopes", "openid email profile"),
        groups_claim=text("groups_claim", "groups"),
        username_claim=text("username_claim", "preferred_username"),
        match_by=match_by,
        jit=bool(entry.get("jit", False)),
        mfa_amr=tuple(str(value) for value in entry.get("mfa_amr", DEFAULT_MFA_AMR)),
        mfa_acr=tuple(str(value) for value in entry.get("mfa_acr", ())),
        mapping=mapping,
    )


def _rule(item, where: str, roles: set[str] | None) -> GroupRule:
    if not isinstance(item, dict) or not isinstance(item.get("group"), str) or not item["group"]:
        raise SsoConfigError(f"{where}: each 'mapping' entry needs a 'group' and a 'role'")
    role = item.get("role")
    if not isinstance(role, str) or (roles is not None and role not in roles):
        raise SsoConfigError(f"{where}: mapping role {role!r} is not a Postern role")
    team = item.get("team")
    if team is not None and (not isinstance(team, str) or not team.strip()):
        raise SsoConfigError(f"{where}: a mapping 'team' must be a name or null")
    return GroupRule(item["group"], role, team.strip() if team else None)


def production_problems(settings: Mapping) -> list[str]:
    """What production refuses in the single sign-on settings (empty list: nothing)."""
    problems = []
    for provider in settings.get("SSO_PROVIDERS") or ():
        for label, url in (("issuer", provider.issuer), ("discovery_url", provider.discovery_url)):
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                problems.append(
                    f"POSTERN_SSO_PROVIDERS provider {provider.name!r}: the {label} must be an "
                    "https:// URL in production"
                )
    problems.extend(sso_only_problems(settings))
    return problems


def sso_only_problems(settings: Mapping) -> list[str]:
    """SSO-only mode needs a provider to sign in with, and one break-glass account."""
    if not settings.get("SSO_ONLY"):
        return []
    problems = []
    if not settings.get("SSO_PROVIDERS"):
        problems.append("POSTERN_SSO_ONLY is on but POSTERN_SSO_PROVIDERS lists no provider")
    if not str(settings.get("SSO_BREAK_GLASS_USERNAME") or "").strip():
        problems.append(
            "POSTERN_SSO_ONLY is on: set POSTERN_SSO_BREAK_GLASS_USERNAME to the one "
            "administrator who keeps password and second-factor sign-in"
        )
    return problems
