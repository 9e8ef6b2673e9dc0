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

from portal.card_numbers import mask_pans, might_hold_pan
from portal.security.input import tidy_typed_text

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
    # Webhook signing secrets (Stripe's, and ours: standard base64, so + / = too).
    (re.compile(r"\bwhsec_[A-Za-z0-9_+/=\-]+"), REDACTED),
    # Postern's own API keys (portal/api_keys/secret.py), wherever one is pasted.
    (re.compile(r"\bpstn_(?:live|test)_[A-Za-z0-9_\-]+"), REDACTED),
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


#: One search that finds something wherever any pattern above would. Almost every log string
#: holds none of it, and one search costs a tenth of the full pass, which runs on every field of
#: every access line. Card numbers have their own cheap first look (``pan.might_hold_pan``: at
#: least 13 digit-like characters), since they can be spelled in too many ways for one regex.
_ANY_SECRET = re.compile("|".join(_scoped(p) for p, _ in _TEXT_PATTERNS))


def redact_text(text: str) -> str:
    """Return ``text`` with card numbers and secrets masked."""
    if not might_hold_pan(text) and _ANY_SECRET.search(text) is None:
        return text
    return _mask_everything(text)


#: A mask's marker cut short ("[REDACT").
_TRAILING_MARKER = re.compile(r"\[[A-Z-]*$")


def _without_trailing_number(text: str) -> str:
    """``text`` without what a cut may leave at its end of a longer number: digits, and the
    separators and invisible characters the card-number detector reads through (everything
    back to the last letter). A loop, not a regex: linear on any input."""
    end = len(text)
    while end and not text[end - 1].isalpha():
        end -= 1
    return text[:end]


def scrub_stored_text(value: str | None, limit: int) -> str | None:
    """Text that arrived from outside (a request header such as the User-Agent, a field of a
    browser's report) made fit to store: control and bidirectional formatting characters
    removed, card numbers in any spelling and secrets masked, and at most ``limit`` characters.
    None for nothing left.

    Anyone can send any header without signing in, and what is stored in the append-only audit
    trail cannot be taken out again, so this runs before anything is stored. Only a bounded
    head of the text is read (no header is worth more), and wherever the text is cut, the digits
    and separators at the cut are dropped too, so no part of a longer number is kept.
    """
    if not value:
        return None
    head = value[: 4 * limit]
    if len(value) > len(head):
        head = _without_trailing_number(head)
    text = redact_text(tidy_typed_text(head))
    if len(text) > limit:
        text = _without_trailing_number(_TRAILING_MARKER.sub("", text[:limit]))
    return text.strip() or None


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
