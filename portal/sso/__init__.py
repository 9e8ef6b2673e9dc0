"""Single sign-on with OpenID Connect: staff sign in through their organisation's identity
provider (Entra ID, Okta, Google, ...), configured by POSTERN_SSO_PROVIDERS (config/sso.py).

``client`` registers each provider with Authlib (Authorization Code flow with PKCE S256,
``state`` and ``nonce``, discovery); ``signin`` decides who a verified ID token is, what role
and team its groups grant, and whether it proves a second factor; ``sessions`` links Postern
sessions to the provider's session; ``logout`` checks back-channel logout tokens and ends the
sessions they name; ``reauth`` believes a fresh sign-in at the provider as "confirm it's you"
before a sensitive action. The views are ``portal.auth.sso_views`` and
``portal.backoffice.sso_reauth``; docs/single-sign-on.md.
"""
