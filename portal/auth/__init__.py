"""The staff sign-in blueprint: login, second factor, logout, account and password pages.

Views and forms only; the rules (lockout, TOTP, recovery codes, passwords) are ``portal.staff``'s.
"""
