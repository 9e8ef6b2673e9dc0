"""Staff authentication: login, lockout, TOTP MFA, recovery codes, password changes."""
