"""Capture settings: link keys and the identity pepper are production secrets."""

from __future__ import annotations

import secrets

import pytest

from config.settings import THROWAWAY_PREFIX, ConfigError, DevelopmentConfig, ProductionConfig
from portal import create_app


def test_link_keys_and_pepper_are_required_in_production():
    assert {"LINK_SIGNING_KEYS", "IDENTITY_PEPPER"} <= set(ProductionConfig.REQUIRED_SECRETS)
    with pytest.raises(ConfigError) as refused:
        create_app("production", {"LINK_SIGNING_KEYS": [], "IDENTITY_PEPPER": ""})
    assert "LINK_SIGNING_KEYS is not set" in str(refused.value)
    assert "IDENTITY_PEPPER is not set" in str(refused.value)


@pytest.mark.parametrize(
    "keys",
    [[f"{THROWAWAY_PREFIX}-link-signing-key"], ["r" * 48, f"{THROWAWAY_PREFIX}-old-key"]],
)
def test_a_throwaway_key_anywhere_in_the_list_is_refused(keys):
    with pytest.raises(ConfigError, match="LINK_SIGNING_KEYS holds a development-only value"):
        create_app("production", {"LINK_SIGNING_KEYS": keys})


def test_real_keys_pass_the_check():
    with pytest.raises(ConfigError) as refused:  # other production settings are still missing
        create_app(
            "production",
            {
                "LINK_SIGNING_KEYS": [secrets.token_urlsafe(32), secrets.token_urlsafe(32)],
                "IDENTITY_PEPPER": secrets.token_urlsafe(32),
            },
        )
    assert "LINK_SIGNING_KEYS" not in str(refused.value)
    assert "IDENTITY_PEPPER" not in str(refused.value)


def test_development_defaults_are_throwaway_and_within_policy():
    assert all(THROWAWAY_PREFIX in key for key in DevelopmentConfig.LINK_SIGNING_KEYS)
    assert THROWAWAY_PREFIX in DevelopmentConfig.IDENTITY_PEPPER
    assert (
        1
        <= DevelopmentConfig.CAPTURE_DEFAULT_EXPIRY_MINUTES
        <= DevelopmentConfig.CAPTURE_MAX_EXPIRY_MINUTES
    )
    assert DevelopmentConfig.CAPTURE_CURRENCIES[0] == "GBP"
    assert DevelopmentConfig.CAPTURE_IDENTITY_MAX_FAILURES == 5
