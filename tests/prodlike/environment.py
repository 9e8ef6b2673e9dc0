"""The production-like stack's environment: what the README's production section asks for, with
secrets made for the run, and beside each variable the app setting it becomes."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.prodlike.certificates import HOST, Certificates

REDIS_URL = os.environ.get("PRODLIKE_REDIS_URL", "redis://127.0.0.1:6379/0")


class Environment:
    """The run's environment variables and, beside each, the app setting it becomes, so that
    apps built in this process (``Stack.app``) are configured exactly as the served ones."""

    def __init__(self) -> None:
        self.variables: dict[str, str] = {}
        self.settings: dict[str, Any] = {}

    def put(self, variable: str, setting: str | None, value: Any, text: str | None = None):
        self.variables[variable] = text if text is not None else str(value)
        if setting:
            self.settings[setting] = value


def _secret() -> str:
    """32 random bytes, as the README tells operators to make each of Postern's own secrets."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class StripeKeys:
    """Test-mode keys made for the run: the sandbox accepts them, the app is given them. As
    long and as random as Stripe's own, so that production's strength rules pass them
    (config/production_rules.py); the signing secret is what ``stripe listen`` prints."""

    secret_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(48))
    publishable_key: str = field(default_factory=lambda: "pk_test_" + secrets.token_hex(48))
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(32))


def production_environment(
    *,
    database_url: str,
    key_store_url: str,
    public_url: str,
    sandbox_url: str,
    certificates: Certificates,
    smtp_port: int,
    rate_limit_prefix: str,
    stripe_keys: StripeKeys,
    hooks_receiver: str,
) -> Environment:
    """Everything the README's production section asks for, with secrets made for the run."""
    env = Environment()
    env.put("POSTERN_ENV", None, "production")
    env.put("POSTERN_SECRET_KEY", "SECRET_KEY", _secret())
    env.put("DATABASE_URL", "SQLALCHEMY_DATABASE_URI", _psycopg(database_url), database_url)
    # The wrapped data keys: a database of their own, kept apart from DATABASE_URL's backups.
    env.put("POSTERN_KEY_STORE_URL", "KEY_STORE_URL", key_store_url)
    env.put("POSTERN_AUDIT_CHAIN_KEY", "AUDIT_CHAIN_KEY", _secret())
    env.put("POSTERN_TRUSTED_HOSTS", "TRUSTED_HOSTS", [HOST], HOST)
    env.put("POSTERN_PROXY_HOPS", "PROXY_HOPS", 1)
    env.put("POSTERN_RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URI", REDIS_URL)
    env.put("POSTERN_RATELIMIT_KEY_PREFIX", "RATELIMIT_KEY_PREFIX", rate_limit_prefix)
    env.put("POSTERN_PUBLIC_BASE_URL", "PUBLIC_BASE_URL", public_url)
    env.put("POSTERN_ORG_NAME", "ORG_NAME", "Postern Production-like Ltd")
    env.put("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY", stripe_keys.secret_key)
    env.put("STRIPE_PUBLISHABLE_KEY", "STRIPE_PUBLISHABLE_KEY", stripe_keys.publishable_key)
    env.put("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", stripe_keys.webhook_secret)
    env.put("STRIPE_API_BASE", "STRIPE_API_BASE", sandbox_url)
    env.put("STRIPE_JS_URL", "STRIPE_JS_URL", sandbox_url + "/v3/")
    env.put("STRIPE_CA_BUNDLE", "STRIPE_CA_BUNDLE", str(certificates.ca_file))
    env.put("POSTERN_LINK_SIGNING_KEYS", "LINK_SIGNING_KEYS", [k := _secret()], k)
    env.put("POSTERN_IDENTITY_PEPPER", "IDENTITY_PEPPER", _secret())
    data_key = f"run-{secrets.token_hex(3)}:" + base64.b64encode(os.urandom(32)).decode()
    env.put("POSTERN_DATA_ENCRYPTION_KEYS", "DATA_ENCRYPTION_KEYS", data_key)
    # The operator publishes its own notice; .test names resolve nowhere, as none is served here.
    env.put("POSTERN_PRIVACY_NOTICE_URL", "PRIVACY_NOTICE_URL", "https://privacy.postern.test/")
    env.put("POSTERN_DELIVERY_SMS_BACKEND", "DELIVERY_SMS_BACKEND", "disabled")
    env.put("POSTERN_DELIVERY_EMAIL_BACKEND", "DELIVERY_EMAIL_BACKEND", "smtp")
    env.put("SMTP_HOST", "SMTP_HOST", "127.0.0.1")
    env.put("SMTP_PORT", "SMTP_PORT", smtp_port)
    env.put("SMTP_STARTTLS", "SMTP_STARTTLS", False, "false")
    env.put("SMTP_FROM", "SMTP_FROM", "Postern <no-reply@postern.test>")
    env.put("POSTERN_LOG_LEVEL", "LOG_LEVEL", "INFO")
    # Outbound webhooks: the one receiver the run has, on loopback, stands where a buyer's
    # integration gateway inside their network would (docs/webhooks.md, "The allow-list"):
    # https with a certificate from the run's CA, reached through the allow-list.
    env.put("POSTERN_HOOKS_ALLOWED_HOSTS", "HOOKS_ALLOWED_HOSTS", [hooks_receiver], hooks_receiver)
    env.put("POSTERN_HOOKS_CA_BUNDLE", "HOOKS_CA_BUNDLE", str(certificates.ca_file))
    return env


def _psycopg(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]
