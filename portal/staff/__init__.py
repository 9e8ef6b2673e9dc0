"""Staff accounts as a domain, knowing nothing of HTTP.

- ``login``: password checks, lockout, setting a password.
- ``mfa``: the TOTP second factor and single-use recovery codes.
- ``accounts``: creating, disabling, roles, teams and second-factor resets, for the CLI and the
  back office alike.
- ``reauth``: re-authentication before a sensitive action.
"""
