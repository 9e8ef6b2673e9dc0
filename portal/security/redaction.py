"""The log redaction filter: nothing secret or personal leaves the process in a log line.

Masks, wherever they appear in a record (message, arguments, extra fields, exception text):
card numbers (see ``pan``), values of sensitive keys (passwords, CVCs, tokens, cookies,
Authorization and Stripe-Signature headers), Stripe secrets and client secrets, bearer tokens,
and customer link tokens in paths.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from portal.security.pan import mask_pans

REDACTED = "[REDACTED]"

#: Key names (compared lower-case, with ``-`` and ``_`` ignored) whose values are never logged.
SENSITIVE_KEYS = frozenset(
    k.replace("-", "").replace("_", "")
    for k in (
        "password",
        "passwd",
        "new_password",
        "current_password",
        "secret",
        "client_secret",
        "token",
        "csrf_token",
        "otp",
        "totp",
        "code",
        "recovery_code",
        "cvc",
        "cvv",
        "cvc2",
        "cvv2",
        "card_number",
        "number",
        "pan",
        "authorization",
        "cookie",
        "set-cookie",
        "stripe-signature",
        "api_key",
        "secret_key",
        "answer",
    )
)

_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Stripe keys and secrets: sk_/rk_ keys, webhook secrets, PaymentIntent client secrets.
    (re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9_]+"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9_\-]+"), REDACTED),
    (re.compile(r"\b(?:pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), REDACTED),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]+"), "Bearer " + REDACTED),
    # Stripe-Signature header values (t=...,v1=...).
    (re.compile(r"\bt=\d+,v1=[0-9a-f]+[^\s\"']*"), REDACTED),
    # Headers whose whole value is a credential: every cookie in a Cookie line ("a=1; b=2"), and
    # any Authorization scheme ("Basic dXNl..."), not only the first word after the colon.
    (
        re.compile(r"(?i)\b((?:set-)?cookie|(?:proxy-)?authorization)(\"?\s*:\s*\"?)[^\r\n\"']+"),
        r"\1\2" + REDACTED,
    ),
    # key=value / key: value pairs for sensitive names, in query strings, headers or prose.
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|token|csrf_token|cvc|cvv|api[_-]?key|authorization"
            r"|cookie|set-cookie|stripe-signature|otp|recovery_code)"
            r"(\"?\s*[=:]\s*\"?)([^\s&,;\"']+)"
        ),
        r"\1\2" + REDACTED,
    ),
    # Customer link tokens in paths: /c/<token>[/...].
    (re.compile(r"(/c/)[A-Za-z0-9_\-.]{8,}"), r"\1" + REDACTED),
]


def _scoped(pattern: re.Pattern[str]) -> str:
    """The pattern's source, with a leading global ``(?i)`` made local to it."""
    source = pattern.pattern
    return f"(?i:{source[4:]})" if source.startswith("(?i)") else f"(?:{source})"


#: One search that finds something wherever any pattern above, or a run of 13 or more digits
#: (every card number is one: see ``portal.security.pan``), would. Built from the same
#: patterns, so it cannot miss what they catch. Almost every log string holds none of it, and
#: one search costs a tenth of the full pass, which runs on every field of every access line.
_ANYTHING_TO_MASK = re.compile(
    "|".join([r"\d(?:[ \-]?\d){12}", *(_scoped(p) for p, _ in _TEXT_PATTERNS)])
)


def redact_text(text: str) -> str:
    """Return ``text`` with card numbers and secrets masked."""
    if _ANYTHING_TO_MASK.search(text) is None:
        return text
    return _mask_everything(text)


def _mask_everything(text: str) -> str:
    text = mask_pans(text)
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _is_sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "").replace("_", "") in SENSITIVE_KEYS


def redact_value(value: Any, _depth: int = 0) -> Any:
    """Redact strings, and the values of sensitive keys, inside nested containers."""
    if _depth > 8:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if _is_sensitive_key(k) else redact_value(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set)):
        return type(value)(redact_value(v, _depth + 1) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        # A bare number can be a PAN too (e.g. logged as a number, even negative or as a float).
        return redact_text(str(value)) if abs(value) >= 10**12 else value
    return redact_text(str(value))


# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


#: Set on a record once ``RedactionFilter`` has rewritten it: a formatter then need only redact
#: what it formats itself, late (exception and stack text).
FILTERED_MARK = "postern_redacted"


class RedactionFilter(logging.Filter):
    """A logging filter that rewrites each record in place so nothing sensitive survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record  # noqa: BLE001
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS:
                continue
            setattr(record, key, REDACTED if _is_sensitive_key(key) else redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        setattr(record, FILTERED_MARK, True)
        return True
