"""What production refuses besides a missing or development-only value: an unsafe public URL,
per-process rate limits, plain-HTTP Stripe, and secrets that are weak or placeholders.

``ProductionConfig.validate`` (config/settings.py) runs ``production_problems`` with the rest of
its checks. Each problem is one sentence that names the environment variable an operator sets
and what is wrong with it, never the value: refusals are printed and logged.
A value that is missing or marked ``dev-only`` is reported by settings.py as such, and not again
here.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from werkzeug.sansio.utils import host_is_trusted

from config.secret_strength import (
    GENERATED_KEY,
    PROVIDER_CREDENTIAL,
    SERVICE_PASSWORD,
    Strength,
    placeholder_word,
    secret_problem,
)

#: Postern's own secrets and the credentials it is given, with the variable each is set by and
#: the strength it needs. A new secret setting belongs here (and in REQUIRED_SECRETS if
#: production cannot run without it). Stripe's keys are checked after their prefix, below.
SECRETS: dict[str, tuple[str, Strength]] = {
    "SECRET_KEY": ("POSTERN_SECRET_KEY", GENERATED_KEY),
    "AUDIT_CHAIN_KEY": ("POSTERN_AUDIT_CHAIN_KEY", GENERATED_KEY),
    "LINK_SIGNING_KEYS": ("POSTERN_LINK_SIGNING_KEYS", GENERATED_KEY),
    "IDENTITY_PEPPER": ("POSTERN_IDENTITY_PEPPER", GENERATED_KEY),
    "TWILIO_AUTH_TOKEN": ("TWILIO_AUTH_TOKEN", PROVIDER_CREDENTIAL),
    "SMTP_PASSWORD": ("SMTP_PASSWORD", SERVICE_PASSWORD),
    # Optional (no token: no /metrics); set, it guards every figure of the deployment.
    "METRICS_TOKEN": ("POSTERN_METRICS_TOKEN", GENERATED_KEY),
}

#: Stripe key prefixes: the secret (or restricted) key, the publishable key, the signing secret.
STRIPE_SECRET_PREFIXES = ("sk_live_", "sk_test_", "rk_live_", "rk_test_")
STRIPE_PUBLISHABLE_PREFIXES = ("pk_live_", "pk_test_")
STRIPE_WEBHOOK_PREFIX = "whsec_"


def _unset_or_throwaway(value, throwaway_marker: str) -> bool:
    return not value or throwaway_marker in str(value)


def secret_problems(settings: Mapping, throwaway_marker: str) -> list[str]:
    """Each secret in ``SECRETS`` that is set but too short, predictable or a placeholder."""
    problems = []
    for name, (variable, strength) in SECRETS.items():
        value = settings.get(name)
        if _unset_or_throwaway(value, throwaway_marker):
            continue
        if isinstance(value, (list, tuple)):
            for position, item in enumerate(value, start=1):
                problem = secret_problem(str(item), strength)
                if problem:
                    problems.append(f"{variable}: key {position} of {len(value)} {problem}")
        else:
            problem = secret_problem(str(value), strength)
            if problem:
                problems.append(f"{variable} {problem}")
    return problems


def _https_url_problem(variable: str, value: str | None, why: str) -> str | None:
    """Why ``value`` is not an absolute https:// URL with a host name, or None."""
    if not value:
        return f"{variable} is not set: it must be an absolute https:// URL ({why})"
    try:
        parts = urlsplit(value.strip())
        hostname = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return f"{variable} is not a URL: it must be an absolute https:// URL ({why})"
    if parts.scheme.lower() != "https":
        shown = f"{parts.scheme}:" if parts.scheme.isalnum() else "a URL without a usable scheme"
        return f"{variable} must be an https:// URL, not {shown} ({why})"
    if not hostname:
        return f"{variable} must name a host: https://host.example ({why})"
    if parts.username or parts.password:
        return f"{variable} must not carry a user name or password"
    return None


def public_url_problems(settings: Mapping) -> list[str]:
    """POSTERN_PUBLIC_BASE_URL: the https:// origin in every customer link, on a trusted host."""
    value = settings.get("PUBLIC_BASE_URL")
    problem = _https_url_problem(
        "POSTERN_PUBLIC_BASE_URL", value, "customers open their payment links under it"
    )
    if problem:
        return [problem]
    parts = urlsplit(value.strip())
    problems = []
    if parts.query or parts.fragment:
        problems.append("POSTERN_PUBLIC_BASE_URL must not have a query (?) or fragment (#)")
    trusted = settings.get("TRUSTED_HOSTS")
    if trusted and not host_is_trusted(parts.hostname, trusted):
        problems.append(
            "POSTERN_PUBLIC_BASE_URL names a host that POSTERN_TRUSTED_HOSTS does not list, so "
            "every customer link would be refused: add it there"
        )
    return problems


def _redis_schemes() -> set[str]:
    """The URL schemes of the Redis (and Valkey) storages that Flask-Limiter's ``limits`` has."""
    from limits.storage import RedisClusterStorage, RedisSentinelStorage, RedisStorage

    storages = (RedisStorage, RedisClusterStorage, RedisSentinelStorage)
    return {scheme for storage in storages for scheme in storage.STORAGE_SCHEME or ()}


def rate_limit_problems(settings: Mapping) -> list[str]:
    """Rate limits must be shared by every worker: counted in memory, each gunicorn worker (and
    each restart) would grant an attacker its own allowance of login and token guesses."""
    uri = str(settings.get("RATELIMIT_STORAGE_URI") or "")
    scheme = uri.partition("://")[0].lower() if "://" in uri else ""
    if scheme in _redis_schemes():
        return []
    if not uri:
        what = "not set"
    elif scheme == "memory":
        what = "memory://, which each worker counts on its own"
    else:
        what = "not a Redis URL"
    return [
        f"POSTERN_RATELIMIT_STORAGE_URI is {what}: production needs Redis "
        "(redis://host:6379/0, or rediss:// for TLS)"
    ]


def stripe_problems(settings: Mapping, throwaway_marker: str) -> list[str]:
    """Stripe over HTTPS only, and keys of the right kind that are not placeholders."""
    problems = [
        problem
        for problem in (
            _https_url_problem(
                "STRIPE_API_BASE",
                settings.get("STRIPE_API_BASE"),
                "card payments and refunds travel over it",
            ),
            _https_url_problem(
                "STRIPE_JS_URL",
                settings.get("STRIPE_JS_URL"),
                "the payment page loads Stripe.js from it",
            ),
        )
        if problem
    ]
    secret = str(settings.get("STRIPE_SECRET_KEY") or "")
    publishable = str(settings.get("STRIPE_PUBLISHABLE_KEY") or "")
    webhook = str(settings.get("STRIPE_WEBHOOK_SECRET") or "")
    if not _unset_or_throwaway(secret, throwaway_marker):
        problems += _prefixed_key_problems(
            "STRIPE_SECRET_KEY", secret, STRIPE_SECRET_PREFIXES, "a secret key (sk_live_...)"
        )
    if not _unset_or_throwaway(publishable, throwaway_marker):
        if not publishable.startswith(STRIPE_PUBLISHABLE_PREFIXES):
            problems.append(
                "STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_live_...): it is sent to "
                "every customer's browser, so a secret key must never be put there"
            )
        elif placeholder_word(publishable.split("_", 2)[2]):
            problems.append("STRIPE_PUBLISHABLE_KEY looks like a placeholder")
    if not _unset_or_throwaway(webhook, throwaway_marker):
        problems += _prefixed_key_problems(
            "STRIPE_WEBHOOK_SECRET", webhook, (STRIPE_WEBHOOK_PREFIX,), "a signing secret (whsec_)"
        )
    both_stripe_keys = secret.startswith(STRIPE_SECRET_PREFIXES) and publishable.startswith(
        STRIPE_PUBLISHABLE_PREFIXES
    )
    if both_stripe_keys and ("_live_" in secret) != ("_live_" in publishable):
        problems.append(
            "STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY must both be live or both be test keys"
        )
    return problems


def _prefixed_key_problems(
    variable: str, value: str, prefixes: tuple[str, ...], kind: str
) -> list[str]:
    prefix = next((p for p in prefixes if value.startswith(p)), None)
    if prefix is None:
        return [f"{variable} must be {kind}, as Stripe's dashboard shows it"]
    problem = secret_problem(value[len(prefix) :], PROVIDER_CREDENTIAL)
    return [f"{variable} after its {prefix} prefix {problem}"] if problem else []


def delivery_url_problems(settings: Mapping) -> list[str]:
    """Twilio's API, when pointed somewhere else than Twilio's own, is reached over HTTPS."""
    base = settings.get("TWILIO_API_BASE_URL")
    if not base:
        return []  # Twilio's own API, over HTTPS
    problem = _https_url_problem(
        "TWILIO_API_BASE_URL", base, "text messages carrying customer links go through it"
    )
    return [problem] if problem else []


def _database_identity(url: str) -> tuple[str, int, str] | None:
    """(host, port, database) of a PostgreSQL URL, whatever login or driver it names."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    host = parsed.host or str(parsed.query.get("host") or "localhost")
    return (host.lower(), parsed.port or 5432, parsed.database or "")


def key_store_problems(settings: Mapping) -> list[str]:
    """POSTERN_KEY_STORE_URL: the wrapped data keys live in a PostgreSQL database of their own.
    In the main database they would be in every backup of the values they protect, and erasing
    a key would no longer make those backups unreadable (docs/personal-data-encryption.md)."""
    url = str(settings.get("KEY_STORE_URL") or "").strip()
    if not url:
        return [
            "POSTERN_KEY_STORE_URL is not set: the data keys of captured personal data need "
            "a database of their own, apart from DATABASE_URL"
        ]
    if not url.startswith(("postgresql", "postgres://")):
        return ["POSTERN_KEY_STORE_URL must point at PostgreSQL in production"]
    main = str(settings.get("SQLALCHEMY_DATABASE_URI") or "")
    key_store = _database_identity(url)
    if key_store is None:
        return ["POSTERN_KEY_STORE_URL is not a database URL"]
    values = _database_identity(main)
    if key_store == values:
        return [
            "POSTERN_KEY_STORE_URL names the same database as DATABASE_URL: the data keys "
            "must live apart from the values, or every database backup keeps what erasure "
            "destroys"
        ]
    if values is not None and key_store[:2] == values[:2]:
        # A server's backups (pgBackRest, WAL-G, snapshots) copy every database on it, and a
        # point-in-time restore would bring destroyed keys back with the values.
        return [
            "POSTERN_KEY_STORE_URL is on the same PostgreSQL server as DATABASE_URL: a backup "
            "of that server would hold the keys with the values; put the key store on a "
            "server (cluster) of its own"
        ]
    return []


def production_problems(settings: Mapping, throwaway_marker: str) -> list[str]:
    """Everything in this module that ``settings`` gets wrong for production (empty: nothing)."""
    return [
        *public_url_problems(settings),
        *rate_limit_problems(settings),
        *stripe_problems(settings, throwaway_marker),
        *delivery_url_problems(settings),
        *secret_problems(settings, throwaway_marker),
        *key_store_problems(settings),
    ]
