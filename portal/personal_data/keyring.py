"""The running app's data-encryption keys (parsed by ``config.keyring``), parsed once."""

from __future__ import annotations

from flask import current_app

from config.keyring import Keyring, parse_keyring


def current_keyring() -> Keyring:
    """The current app's keyring, parsed once per configured value. Raises KeyringError."""
    raw = current_app.config.get("DATA_ENCRYPTION_KEYS")
    cache_key = raw if isinstance(raw, str) else repr(list(dict(raw or {}).items()))
    cached = current_app.extensions.get("postern_keyring")
    if cached is None or cached[0] != cache_key:
        cached = (cache_key, parse_keyring(raw))
        current_app.extensions["postern_keyring"] = cached
    return cached[1]
