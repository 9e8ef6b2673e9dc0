"""A complete production configuration with real-looking values made for each call: what the
rule tests start from, changing one setting at a time, so that each refusal has one cause."""

from __future__ import annotations

import base64
import os
import secrets
from typing import Any

from config.settings import ProductionConfig


def good_production_settings() -> dict[str, Any]:
    """Production's own defaults, with every required value set as an operator would set it."""
    settings = {name: getattr(ProductionConfig, name) for name in dir(ProductionConfig)}
    settings = {name: value for name, value in settings.items() if name.isupper()}
    settings.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        AUDIT_CHAIN_KEY=secrets.token_hex(32),
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postern@db.internal/postern",
        KEY_STORE_URL="postgresql+psycopg://postern@keys.internal/postern_keys",
        TRUSTED_HOSTS=["pay.example.co.uk"],
        SESSION_COOKIE_SECURE=True,
        PUBLIC_BASE_URL="https://pay.example.co.uk",
        RATELIMIT_STORAGE_URI="redis://redis.internal:6379/0",
        STRIPE_API_BASE="https://api.stripe.com",
        STRIPE_JS_URL="https://js.stripe.com/v3/",
        STRIPE_SECRET_KEY="sk_live_" + secrets.token_urlsafe(72),
        STRIPE_PUBLISHABLE_KEY="pk_live_" + secrets.token_urlsafe(72),
        STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_urlsafe(24),
        LINK_SIGNING_KEYS=[secrets.token_urlsafe(32), secrets.token_urlsafe(32)],
        IDENTITY_PEPPER=base64.b64encode(os.urandom(32)).decode(),
        DATA_ENCRYPTION_KEYS="2027a:" + base64.b64encode(os.urandom(32)).decode(),
        PRIVACY_NOTICE_URL="https://pay.example.co.uk/privacy",
        DEV_OUTBOX_ENABLED=False,
        DELIVERY_SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_FROM="+447700900123",
        DELIVERY_EMAIL_BACKEND="smtp",
        SMTP_HOST="smtp.example.co.uk",
        SMTP_USERNAME="postern",
        SMTP_PASSWORD=secrets.token_urlsafe(24),
        SMTP_FROM="Postern <no-reply@example.co.uk>",
    )
    return settings
