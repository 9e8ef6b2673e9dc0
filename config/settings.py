"""Settings per environment, picked by one environment variable: ``POSTERN_ENV``.

``development`` (the default) and ``testing`` run on the embedded default: an SQLite file under
``instance/``, in-memory rate limits, the Stripe sandbox and the development outbox. They may use
throwaway secrets, which are marked ``dev-only`` so that production can recognise and refuse them.

``production`` reads everything from the environment and fails closed: a missing or throwaway
secret stops the process before it serves a single request.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

#: Prefix of every throwaway value; production refuses any setting that starts with it.
THROWAWAY_PREFIX = "dev-only"


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a safe configuration."""


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _normalise_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class BaseConfig:
    ENV_NAME = "base"

    # Organisation shown to customers and staff.
    ORG_NAME = os.environ.get("POSTERN_ORG_NAME", "Postern Demo Ltd")
    PUBLIC_BASE_URL = os.environ.get("POSTERN_PUBLIC_BASE_URL", "http://127.0.0.1:5000")

    # Requests and hosts.
    MAX_CONTENT_LENGTH = 256 * 1024
    MAX_FORM_MEMORY_SIZE = 256 * 1024
    TRUSTED_HOSTS: list[str] | None = _env_list("POSTERN_TRUSTED_HOSTS") or None
    #: Number of proxies in front of the app that set X-Forwarded-*; 0 = not behind a proxy.
    PROXY_HOPS = _env_int("POSTERN_PROXY_HOPS", 0)

    # Database.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_recycle": 1800}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Staff sessions (PCI DSS 8.2.8: 15 minutes idle; an absolute lifetime on top).
    SESSION_COOKIE_NAME = "postern_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_IDLE_TIMEOUT = timedelta(minutes=15)
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=10)
    #: How often a live session's last-seen time is written; bounds write load on busy polls.
    SESSION_TOUCH_INTERVAL = timedelta(seconds=30)
    #: How long a password-verified login may wait for its second factor.
    MFA_PENDING_LIFETIME = timedelta(minutes=5)

    # Login lockout (PCI DSS 8.3.4: at most 10 attempts, locked for at least 30 minutes).
    LOGIN_MAX_FAILURES = 10
    LOGIN_LOCKOUT = timedelta(minutes=30)
    PASSWORD_MIN_LENGTH = 12
    MFA_ISSUER = "Postern"

    # Rate limits (Flask-Limiter). Memory by default; Redis in production.
    RATELIMIT_STORAGE_URI = os.environ.get("POSTERN_RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_LOGIN_PER_IP = "30 per minute"
    RATELIMIT_LOGIN_PER_ACCOUNT = "10 per minute"

    # CSRF: on everywhere, tests included.
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 3600
    WTF_CSRF_SSL_STRICT = True

    # Security headers.
    FORCE_HTTPS = True
    HSTS_MAX_AGE = 63072000

    # Stripe (sandbox by default, real Stripe by configuration alone).
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
    STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")

    LOG_LEVEL = os.environ.get("POSTERN_LOG_LEVEL", "INFO")
    LOG_JSON = True

    #: Settings that production refuses to start without (or with a throwaway value).
    REQUIRED_SECRETS: tuple[str, ...] = (
        "SECRET_KEY",
        "SQLALCHEMY_DATABASE_URI",
        "AUDIT_CHAIN_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
    )

    @classmethod
    def validate(cls, settings: dict) -> None:
        """Raise ConfigError if the settings are unsafe for this environment."""


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("POSTERN_SECRET_KEY", f"{THROWAWAY_PREFIX}-secret-key")
    AUDIT_CHAIN_KEY = os.environ.get("POSTERN_AUDIT_CHAIN_KEY", f"{THROWAWAY_PREFIX}-audit-key")
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'postern.sqlite3'}")
    )
    SESSION_COOKIE_SECURE = _env_bool("POSTERN_COOKIE_SECURE", False)
    FORCE_HTTPS = False
    WTF_CSRF_SSL_STRICT = False
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111")
    STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "http://127.0.0.1:12111/v3/")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "sk_test_postern_sandbox")
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "pk_test_postern_sandbox")
    STRIPE_WEBHOOK_SECRET = os.environ.get(
        "STRIPE_WEBHOOK_SECRET", f"whsec_{THROWAWAY_PREFIX}-webhook-secret"
    )
    LOG_JSON = _env_bool("POSTERN_LOG_JSON", False)


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(
        os.environ.get("TEST_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'test.sqlite3'}")
    )
    # Argon2 at full strength costs ~50 ms a hash; tests hash hundreds of passwords.
    ARGON2_FAST = True
    LOG_JSON = True


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("POSTERN_SECRET_KEY", "")
    AUDIT_CHAIN_KEY = os.environ.get("POSTERN_AUDIT_CHAIN_KEY", "")
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(os.environ.get("DATABASE_URL", ""))

    @classmethod
    def validate(cls, settings: dict) -> None:
        problems = []
        for name in settings.get("REQUIRED_SECRETS", cls.REQUIRED_SECRETS):
            value = settings.get(name)
            if not value:
                problems.append(f"{name} is not set")
            elif isinstance(value, str) and THROWAWAY_PREFIX in value:
                problems.append(f"{name} holds a development-only value")
        uri = settings.get("SQLALCHEMY_DATABASE_URI") or ""
        if uri.startswith("sqlite"):
            problems.append("DATABASE_URL must point at PostgreSQL in production")
        if not settings.get("TRUSTED_HOSTS"):
            problems.append("POSTERN_TRUSTED_HOSTS must list the host names Postern answers to")
        if not settings.get("SESSION_COOKIE_SECURE"):
            problems.append("session cookies must be Secure in production")
        if problems:
            raise ConfigError("refusing to start: " + "; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_class(env_name: str | None = None) -> type[BaseConfig]:
    """Return the settings class named by ``env_name`` or ``POSTERN_ENV``.

    Raises ConfigError for an unknown name, rather than guessing.
    """
    name = env_name or os.environ.get("POSTERN_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"POSTERN_ENV={name!r} is not one of {sorted(CONFIGS)}") from None
