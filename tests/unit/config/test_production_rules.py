"""Production fails closed: one test per rule of config/production_rules.py and the data keys,
each showing the refusal (naming the variable, never quoting the value) and a good value that
passes. Every test starts from a complete, valid production configuration and changes one
setting, so a refusal has exactly one cause."""

from __future__ import annotations

import base64
import os
import re
import secrets

import pytest

from config.production_rules import SECRETS
from config.settings import ConfigError, ProductionConfig
from tests.unit.config.production_values import good_production_settings

#: A value as random as a real one, fixed so that test ids are the same in every process.
RANDOM_LOOKING = "Yk3vQ9pL2xW7mN4rT8bF6hJ1sD5gA0cE-uIo_zRtHq"


def refusal(**changes) -> str:
    """The refusal production gives for a good configuration with ``changes``."""
    with pytest.raises(ConfigError) as refused:
        ProductionConfig.validate({**good_production_settings(), **changes})
    return str(refused.value)


def accepted(**changes) -> bool:
    ProductionConfig.validate({**good_production_settings(), **changes})
    return True


def test_the_complete_configuration_passes_every_rule():
    assert accepted()


# --- POSTERN_PUBLIC_BASE_URL ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "POSTERN_PUBLIC_BASE_URL is not set"),
        (None, "POSTERN_PUBLIC_BASE_URL is not set"),
        ("http://pay.example.co.uk", "must be an https:// URL, not http:"),
        ("javascript:alert(1)//", "must be an https:// URL, not javascript:"),
        ("pay.example.co.uk", "must be an https:// URL"),
        ("//pay.example.co.uk", "must be an https:// URL"),
        ("https://", "must name a host"),
        ("https:///c/", "must name a host"),
        ("https://pay.example.co.uk:port", "is not a URL"),
        ("https://ops:hunter2@pay.example.co.uk", "must not carry a user name or password"),
        ("https://pay.example.co.uk/?next=1", "must not have a query"),
        ("https://pay.example.co.uk/#x", "must not have a query (?) or fragment"),
        ("https://other.example.com", "POSTERN_TRUSTED_HOSTS does not list"),
    ],
)
def test_the_public_base_url_must_be_an_https_origin_on_a_trusted_host(value, problem):
    message = refusal(PUBLIC_BASE_URL=value)
    assert problem in message
    assert "POSTERN_PUBLIC_BASE_URL" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "value",
    ["https://pay.example.co.uk", "https://pay.example.co.uk/", "https://PAY.example.co.uk"],
)
def test_an_https_public_base_url_on_a_trusted_host_passes(value):
    assert accepted(PUBLIC_BASE_URL=value)


def test_a_wildcard_trusted_host_covers_the_public_base_url():
    assert accepted(TRUSTED_HOSTS=[".example.co.uk"], PUBLIC_BASE_URL="https://pay.example.co.uk")


# --- rate limits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("memory://", "is memory://, which each worker counts on its own"),
        ("", "is not set"),
        (None, "is not set"),
        ("memcached://cache:11211", "is not a Redis URL"),
        ("redis-is-over-there", "is not a Redis URL"),
    ],
)
def test_rate_limits_need_redis(value, problem):
    message = refusal(RATELIMIT_STORAGE_URI=value)
    assert f"POSTERN_RATELIMIT_STORAGE_URI {problem}: production needs Redis" in message


@pytest.mark.parametrize(
    "value",
    [
        "redis://redis.internal:6379/0",
        "rediss://:password@redis.internal:6380/0",
        "redis+sentinel://sentinel.internal:26379/postern",
        "redis+unix:///run/redis/redis.sock",
    ],
)
def test_redis_rate_limits_pass(value):
    assert accepted(RATELIMIT_STORAGE_URI=value)


# --- Stripe ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["STRIPE_API_BASE", "STRIPE_JS_URL"])
@pytest.mark.parametrize("value", ["http://api.stripe.com", "ftp://api.stripe.com", ""])
def test_stripe_is_reached_over_https_only(name, value):
    message = refusal(**{name: value})
    assert name in message and "https://" in message


def test_an_https_stripe_stand_in_passes():
    """A TLS-inspecting egress proxy or the production-like stack's sandbox: any https host."""
    assert accepted(STRIPE_API_BASE="https://127.0.0.1:12111", STRIPE_JS_URL="https://s.test/v3/")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("whsec_x", "STRIPE_WEBHOOK_SECRET after its whsec_ prefix is too short"),
        ("whsec_" + "a" * 40, "STRIPE_WEBHOOK_SECRET after its whsec_ prefix is too predictable"),
        ("whsec_changeme-changeme-changeme-1", "looks like a placeholder"),
        (RANDOM_LOOKING, "STRIPE_WEBHOOK_SECRET must be a signing secret (whsec_)"),
    ],
)
def test_weak_or_placeholder_webhook_secrets_are_refused(value, problem):
    message = refusal(STRIPE_WEBHOOK_SECRET=value)
    assert problem in message
    assert value not in message


def test_a_stripe_style_webhook_secret_passes():
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    stripe_like = "whsec_" + "".join(secrets.choice(alphabet) for _ in range(32))
    assert accepted(STRIPE_WEBHOOK_SECRET=stripe_like)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("sk_live_x", "STRIPE_SECRET_KEY after its sk_live_ prefix is too short"),
        ("pk_live_" + RANDOM_LOOKING, "STRIPE_SECRET_KEY must be a secret key"),
        ("sk_live_" + "0123456789" * 4, "is too predictable"),
    ],
)
def test_stripe_secret_keys_must_be_secret_keys_and_not_weak(value, problem):
    message = refusal(STRIPE_SECRET_KEY=value)
    assert problem in message
    assert value not in message


def test_a_secret_key_in_the_publishable_slot_is_refused():
    """It would be sent to every customer's browser."""
    leaked = "sk_live_" + secrets.token_urlsafe(40)
    message = refusal(STRIPE_PUBLISHABLE_KEY=leaked)
    assert "STRIPE_PUBLISHABLE_KEY must be a publishable key" in message
    assert leaked not in message


def test_live_and_test_keys_are_not_mixed():
    message = refusal(STRIPE_PUBLISHABLE_KEY="pk_test_" + secrets.token_urlsafe(40))
    assert "must both be live or both be test keys" in message
    assert accepted(
        STRIPE_SECRET_KEY="sk_test_" + secrets.token_urlsafe(40),
        STRIPE_PUBLISHABLE_KEY="pk_test_" + secrets.token_urlsafe(40),
    )
    assert accepted(STRIPE_SECRET_KEY="rk_live_" + secrets.token_urlsafe(40))


# --- Postern's own secrets ------------------------------------------------------------------

OWN_SECRETS = {
    "SECRET_KEY": "POSTERN_SECRET_KEY",
    "AUDIT_CHAIN_KEY": "POSTERN_AUDIT_CHAIN_KEY",
    "IDENTITY_PEPPER": "POSTERN_IDENTITY_PEPPER",
}
WEAK_VALUES = {
    "a": "is too short",
    "correct horse battery": "is too short",
    "k" * 64: "is too predictable",
    "ab" * 32: "is too predictable",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCD": "is too predictable",
    "0123456789" * 5: "is too predictable",
    "changeme-" + RANDOM_LOOKING: "looks like a placeholder",
    "an-example-value-" + RANDOM_LOOKING: "looks like a placeholder",
}


@pytest.mark.parametrize("name", sorted(OWN_SECRETS))
@pytest.mark.parametrize(("value", "problem"), sorted(WEAK_VALUES.items()))
def test_weak_own_secrets_are_refused_by_name_without_quoting_them(name, value, problem):
    message = refusal(**{name: value})
    assert f"{OWN_SECRETS[name]} {problem}" in message
    assert len(value) < 8 or value not in message


@pytest.mark.parametrize(("value", "problem"), sorted(WEAK_VALUES.items()))
def test_each_link_signing_key_is_checked(value, problem):
    message = refusal(LINK_SIGNING_KEYS=[secrets.token_urlsafe(32), value])
    assert f"POSTERN_LINK_SIGNING_KEYS: key 2 of 2 {problem}" in message
    assert "key 1 of 2" not in message
    assert len(value) < 8 or value not in message


@pytest.mark.parametrize("name", sorted(OWN_SECRETS))
@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_hex(32),
        lambda: base64.b64encode(os.urandom(32)).decode(),
    ],
    ids=["token_urlsafe(32)", "openssl rand -hex 32", "openssl rand -base64 32"],
)
def test_secrets_made_as_the_readme_says_pass(name, make):
    assert accepted(**{name: make()})


# --- delivery credentials -------------------------------------------------------------------


def test_a_weak_twilio_token_or_plain_http_twilio_api_is_refused():
    assert "TWILIO_AUTH_TOKEN is too short" in refusal(TWILIO_AUTH_TOKEN="token")
    assert "TWILIO_AUTH_TOKEN is too predictable" in refusal(TWILIO_AUTH_TOKEN="f" * 32)
    message = refusal(TWILIO_API_BASE_URL="http://twilio.internal")
    assert "TWILIO_API_BASE_URL must be an https:// URL" in message
    assert accepted(
        TWILIO_API_BASE_URL="https://twilio.internal",
        TWILIO_AUTH_TOKEN="a1" + "b2c3d4e5f60718293a4b5c6d7e8f90",
    )


def test_a_short_or_placeholder_smtp_password_is_refused():
    assert "SMTP_PASSWORD is too short" in refusal(SMTP_PASSWORD="hunter2")
    assert "SMTP_PASSWORD looks like a placeholder" in refusal(SMTP_PASSWORD="MyPassword123456789")
    assert accepted(SMTP_PASSWORD=secrets.token_urlsafe(16))


# --- data-encryption keys (AES-256) ---------------------------------------------------------


def _key(raw: bytes) -> str:
    return "2027a:" + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (bytes(32), "is one byte repeated (for example all zero)"),
        (b"\xa5" * 32, "is one byte repeated"),
        (os.urandom(8) * 4, "has too few different byte values"),
        (bytes(range(32)), "is mostly a run of repeated or consecutive bytes"),
        (bytes(range(200, 232)), "is mostly a run"),
        (b"Sphinx of black QUARTZ, judge 7 ", "is printable text, not random bytes"),
    ],
    ids=["all-zero", "repeated-byte", "8-bytes-four-times", "0..31", "200..231", "passphrase"],
)
def test_data_keys_that_are_not_random_bytes_are_refused(raw, problem):
    message = refusal(DATA_ENCRYPTION_KEYS=_key(raw))
    assert f"POSTERN_DATA_ENCRYPTION_KEYS: data key '2027a' {problem}" in message
    assert base64.b64encode(raw).decode() not in message


def test_an_older_weak_key_is_refused_too_and_random_keys_pass():
    ring = f"new:{_key(os.urandom(32)).partition(':')[2]},old:{_key(bytes(32)).partition(':')[2]}"
    assert "data key 'old' is one byte repeated" in refusal(DATA_ENCRYPTION_KEYS=ring)
    assert "'new'" not in refusal(DATA_ENCRYPTION_KEYS=ring)
    for _ in range(200):
        assert accepted(DATA_ENCRYPTION_KEYS=_key(os.urandom(32)))


def test_every_refusal_is_listed_at_once():
    """An operator fixes everything in one go, rather than one restart per problem."""
    message = refusal(
        PUBLIC_BASE_URL="http://pay.example.co.uk",
        RATELIMIT_STORAGE_URI="memory://",
        SECRET_KEY="a",
        STRIPE_API_BASE="http://api.stripe.com",
        STRIPE_WEBHOOK_SECRET="whsec_x",
        DATA_ENCRYPTION_KEYS=_key(bytes(32)),
    )
    for variable in (
        "POSTERN_PUBLIC_BASE_URL",
        "POSTERN_RATELIMIT_STORAGE_URI",
        "POSTERN_SECRET_KEY",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRET",
        "POSTERN_DATA_ENCRYPTION_KEYS",
    ):
        assert variable in message


# --- no secret setting escapes the rules ----------------------------------------------------

#: Settings whose names sound secret but hold no secret, and the secrets checked elsewhere.
NOT_SECRETS = {"DATA_KEY_ROTATION_BATCH", "PASSWORD_MIN_LENGTH", "RATELIMIT_KEY_PREFIX"}
NOT_SECRETS |= {"REQUIRED_SECRETS"}  # the list of names itself
NOT_SECRETS |= {"PASSKEY_SIGN_IN"}  # a switch (passwordless sign-in with a passkey)
CHECKED_ELSEWHERE = {
    "DATA_ENCRYPTION_KEYS": "config/keyring.py weak_key_problems",
    "STRIPE_SECRET_KEY": "stripe_problems, after its prefix",
    "STRIPE_PUBLISHABLE_KEY": "stripe_problems, its prefix",
    "STRIPE_WEBHOOK_SECRET": "stripe_problems, after its prefix",
    "KEY_STORE_URL": "key_store_problems (a database URL; its password is the database's)",
}


def test_every_setting_that_sounds_secret_has_a_strength_rule():
    """A new key, token or password setting fails here until it is given a rule in
    config/production_rules.py SECRETS (or is listed above as no secret)."""
    sounding = {
        name
        for name in dir(ProductionConfig)
        if name.isupper() and re.search(r"KEY|SECRET|TOKEN|PEPPER|PASSWORD|SEED|SALT", name)
    }
    covered = set(SECRETS) | set(CHECKED_ELSEWHERE) | NOT_SECRETS
    assert sounding - covered == set()
