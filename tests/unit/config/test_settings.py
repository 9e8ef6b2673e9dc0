"""Configuration per environment: production fails closed, the others are safe by default."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest

from config.settings import (
    CONFIGS,
    DEV_DATABASE_URL,
    PROJECT_ROOT,
    THROWAWAY_PREFIX,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    _normalise_database_url,
    config_class,
)
from portal import create_app

FOUNDATION_SECRETS = ("SECRET_KEY", "AUDIT_CHAIN_KEY", "SQLALCHEMY_DATABASE_URI")


def _clean_environment() -> dict[str, str]:
    """The environment of a fresh process with none of Postern's settings in it."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {name: os.environ[name] for name in keep if name in os.environ}


def test_production_without_its_secrets_refuses_to_start_and_names_them():
    """What an operator sees: the process stops before serving, listing every missing item."""
    result = subprocess.run(
        [sys.executable, "-c", "from portal import create_app; create_app('production')"],
        cwd=PROJECT_ROOT,
        env={**_clean_environment(), "POSTERN_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ConfigError: refusing to start" in result.stderr
    for name in ProductionConfig.REQUIRED_SECRETS:
        assert f"{name} is not set" in result.stderr, name
    assert "POSTERN_TRUSTED_HOSTS" in result.stderr


def test_production_refuses_the_development_throwaway_values():
    throwaway = {
        name: getattr(DevelopmentConfig, name)
        for name in ProductionConfig.REQUIRED_SECRETS
        if hasattr(DevelopmentConfig, name)
    }
    with pytest.raises(ConfigError) as refused:
        create_app("production", throwaway)
    message = str(refused.value)
    marked = [name for name, value in throwaway.items() if THROWAWAY_PREFIX in repr(value)]
    assert {"SECRET_KEY", "AUDIT_CHAIN_KEY"} <= set(marked)
    for name in marked:
        assert f"{name} holds a development-only value" in message, name
    assert "DATABASE_URL must point at PostgreSQL" in message


@pytest.mark.parametrize("name", ["SECRET_KEY", "AUDIT_CHAIN_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_a_single_throwaway_value_is_enough_to_refuse(name):
    with pytest.raises(ConfigError, match=f"{name} holds a development-only value"):
        create_app("production", {name: f"{THROWAWAY_PREFIX}-but-long-and-random-looking"})


def test_production_refuses_insecure_cookies_sqlite_and_no_trusted_hosts():
    with pytest.raises(ConfigError) as refused:
        create_app(
            "production",
            {
                "SESSION_COOKIE_SECURE": False,
                "TRUSTED_HOSTS": None,
                "SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.sqlite3",
            },
        )
    message = str(refused.value)
    assert "session cookies must be Secure" in message
    assert "POSTERN_TRUSTED_HOSTS" in message
    assert "must point at PostgreSQL" in message


def test_real_values_satisfy_the_foundation_checks():
    good = {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(32),
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db.internal/postern",
        "TRUSTED_HOSTS": ["pay.example.com"],
        "SESSION_COOKIE_SECURE": True,
    }
    try:
        create_app("production", good)
    except ConfigError as refused:
        problems = str(refused).removeprefix("refusing to start: ").split("; ")
        for name in FOUNDATION_SECRETS:
            assert not any(problem.startswith(f"{name} ") for problem in problems), problems
        message = str(refused)
        assert "TRUSTED_HOSTS" not in message and "cookies" not in message
        assert "PostgreSQL" not in message


def test_an_unknown_environment_name_is_refused_rather_than_guessed():
    with pytest.raises(ConfigError, match="POSTERN_ENV='prod'"):
        config_class("prod")
    assert config_class("testing") is TestingConfig
    assert set(CONFIGS) == {"development", "testing", "production"}


def test_the_environment_variable_picks_the_settings(monkeypatch):
    monkeypatch.setenv("POSTERN_ENV", "testing")
    assert config_class() is TestingConfig
    monkeypatch.setenv("POSTERN_ENV", "production")
    assert config_class() is ProductionConfig
    monkeypatch.delenv("POSTERN_ENV")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config_class() is DevelopmentConfig


POSTGRES_URL = "postgresql://postern:s3cr3t-db-pass@db.internal:5432/postern"


@pytest.mark.parametrize("unset", [None, "", "  "])
def test_an_unset_environment_on_a_real_database_refuses_to_start(monkeypatch, unset):
    """Unset POSTERN_ENV once meant development, public secrets and all, on any database."""
    if unset is None:
        monkeypatch.delenv("POSTERN_ENV", raising=False)
    else:
        monkeypatch.setenv("POSTERN_ENV", unset)
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    with pytest.raises(ConfigError) as refused:
        config_class()
    message = str(refused.value)
    assert "POSTERN_ENV is not set and DATABASE_URL names a PostgreSQL database" in message
    assert "Set POSTERN_ENV=production" in message and "POSTERN_ENV=development" in message
    assert "s3cr3t-db-pass" not in message and "db.internal" not in message
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/other.sqlite3")
    with pytest.raises(ConfigError, match="names a sqlite database other than the embedded"):
        config_class()


def test_development_is_assumed_only_on_its_own_database(monkeypatch):
    monkeypatch.delenv("POSTERN_ENV", raising=False)
    monkeypatch.setenv("DATABASE_URL", DEV_DATABASE_URL)
    assert config_class() is DevelopmentConfig
    monkeypatch.delenv("DATABASE_URL")
    assert config_class() is DevelopmentConfig


def test_development_on_a_real_database_must_be_asked_for(monkeypatch):
    """The benchmark and a developer debugging against PostgreSQL say so explicitly."""
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("POSTERN_ENV", "development")
    assert config_class() is DevelopmentConfig
    monkeypatch.delenv("POSTERN_ENV")
    assert config_class("development") is DevelopmentConfig


def test_the_served_app_refuses_to_start_without_postern_env_on_postgresql():
    """What an operator sees from gunicorn or flask: the process stops, saying what to set."""
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=PROJECT_ROOT,
        env={**_clean_environment(), "DATABASE_URL": POSTGRES_URL},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ConfigError: refusing to start: POSTERN_ENV is not set" in result.stderr
    assert "s3cr3t-db-pass" not in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://h/db", "postgresql+psycopg://h/db"),
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
    ],
)
def test_database_urls_use_the_shipped_driver(url, expected):
    assert _normalise_database_url(url) == expected


def test_development_secrets_are_all_marked_throwaway():
    assert THROWAWAY_PREFIX in DevelopmentConfig.SECRET_KEY
    assert THROWAWAY_PREFIX in DevelopmentConfig.AUDIT_CHAIN_KEY
    assert THROWAWAY_PREFIX in DevelopmentConfig.STRIPE_WEBHOOK_SECRET


@pytest.mark.parametrize("settings", [DevelopmentConfig, TestingConfig, ProductionConfig])
def test_every_environment_keeps_the_pci_baseline(settings):
    assert settings.WTF_CSRF_ENABLED is True
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert timedelta(minutes=15) >= settings.SESSION_IDLE_TIMEOUT  # PCI DSS 8.2.8
    assert settings.LOGIN_MAX_FAILURES <= 10  # PCI DSS 8.3.4
    assert timedelta(minutes=30) <= settings.LOGIN_LOCKOUT
    assert settings.PASSWORD_MIN_LENGTH >= 12  # PCI DSS 8.3.6
    assert settings.MAX_CONTENT_LENGTH <= 1024 * 1024


def test_production_defaults_are_the_strict_ones():
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert ProductionConfig.FORCE_HTTPS is True
    assert ProductionConfig.WTF_CSRF_SSL_STRICT is True
    assert not getattr(ProductionConfig, "ARGON2_FAST", False)
    assert not getattr(ProductionConfig, "TESTING", False)


def test_overrides_apply_before_validation():
    app = create_app("testing", {"ORG_NAME": "Example Ltd", "LOGIN_MAX_FAILURES": 3})
    assert app.config["ORG_NAME"] == "Example Ltd"
    assert app.config["LOGIN_MAX_FAILURES"] == 3
    assert app.config["ENV_NAME"] == "testing"
