"""The providers as Authlib clients, registered once per app.

Registering fetches nothing: Authlib reads the discovery document the first time a provider
is used, so building the app stays free of I/O. Each client asks for PKCE with S256; Authlib
then makes a fresh ``code_verifier``, ``state`` and ``nonce`` for every sign-in and keeps them
in the signed session cookie until the callback, which checks all three.
"""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from config.settings import ConfigError
from config.sso import SsoProvider
from portal.security.authz import Role
from portal.security.sessions import SESSION_REPLACED_LISTENERS

#: Seconds Postern waits for a provider's token, discovery or key endpoint.
HTTP_TIMEOUT_SECONDS = 10

_OAUTH = "postern.sso.oauth"


def init_sso(app: Flask) -> None:
    """Register every configured provider, and carry provider links across session rotation."""
    from portal.sso import sessions as sso_sessions

    providers = app.config.get("SSO_PROVIDERS") or ()
    roles = {role.value for role in Role}
    for provider in providers:
        unknown = [rule.role for rule in provider.mapping if rule.role not in roles]
        if unknown:
            raise ConfigError(
                f"refusing to start: POSTERN_SSO_PROVIDERS provider {provider.name!r} maps "
                f"groups to unknown roles {sorted(unknown)}"
            )
    oauth = OAuth(app)
    for provider in providers:
        oauth.register(
            name=provider.name,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.discovery_url,
            client_kwargs={
                "scope": provider.scopes,
                "code_challenge_method": "S256",
                "default_timeout": HTTP_TIMEOUT_SECONDS,  # discovery, keys, token, UserInfo
            },
        )
    app.extensions[_OAUTH] = oauth

    @app.context_processor
    def _sign_in_options() -> dict:
        # The sign-in page's buttons, one per provider, and whether passwords are for the
        # break-glass account only.
        return {"sso_providers": providers, "sso_only": bool(app.config.get("SSO_ONLY"))}

    app.extensions.setdefault(SESSION_REPLACED_LISTENERS, []).append(
        sso_sessions.carry_link_to_replacement
    )


def password_sign_in_allowed(username: str) -> bool:
    """False in SSO-only mode for everyone but the break-glass account (normalised names)."""
    if not current_app.config.get("SSO_ONLY"):
        return True
    return is_break_glass(username)


def is_break_glass(username: str | None) -> bool:
    """True if ``username`` is the configured break-glass account (normalised names). That
    account must stay out of every provider's reach (``portal.sso.signin``), SSO-only or not:
    it is the way in for the day the provider is wrong."""
    configured = current_app.config.get("SSO_BREAK_GLASS_USERNAME") or ""
    break_glass = " ".join(str(configured).split()).lower()
    return bool(break_glass) and (username or "").strip().lower() == break_glass


def providers() -> tuple[SsoProvider, ...]:
    return tuple(current_app.config.get("SSO_PROVIDERS") or ())


def provider_named(name: str) -> SsoProvider | None:
    return next((provider for provider in providers() if provider.name == name), None)


def oauth_client(provider: SsoProvider):
    """The Authlib client of ``provider`` in the running app."""
    return current_app.extensions[_OAUTH].create_client(provider.name)
