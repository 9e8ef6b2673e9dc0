"""Parsing the data-encryption keys; the app refuses to start with unusable ones."""

from __future__ import annotations

import base64
import os

import pytest

from config.keyring import KeyringError, UnknownKeyError, parse_keyring
from config.settings import DEV_DATA_KEY_BASE64, ConfigError, ProductionConfig, data_key_problems


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def test_newest_key_is_listed_first_and_all_keys_are_kept():
    ring = parse_keyring(f"kb:{b64(KEY_B)}, ka:{b64(KEY_A)}")
    assert ring.newest_id == "kb" and ring.newest_key == KEY_B
    assert ring.ids == ("kb", "ka")
    assert ring.key("ka") == KEY_A
    with pytest.raises(UnknownKeyError, match="'kc' is not in DATA_ENCRYPTION_KEYS"):
        ring.key("kc")


def test_a_mapping_works_too_and_repr_shows_no_key_material():
    ring = parse_keyring({"kb": KEY_B, "ka": b64(KEY_A)})
    assert ring.ids == ("kb", "ka")
    assert b64(KEY_B) not in repr(ring) and "kb" in repr(ring)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        (None, "empty"),
        (" , ", "empty"),
        ("just-base64-no-id", "key_id:base64"),
        (f"k1:{b64(os.urandom(16))}", "16 bytes; AES-256 needs exactly 32"),
        (f"k1:{b64(os.urandom(33))}", "33 bytes"),
        ("k1:not*base64!", "not valid base64"),
        (f"k1:{b64(KEY_A)},k1:{b64(KEY_B)}", "appears twice"),
        (f"bad id:{b64(KEY_A)}", "must be 1-32 letters"),
        (f"{'x' * 33}:{b64(KEY_A)}", "must be 1-32 letters"),
    ],
    # Named, not shown: the values hold random keys, and xdist needs the same ids everywhere.
    ids=[
        "empty",
        "none",
        "only-commas",
        "no-id",
        "16-bytes",
        "33-bytes",
        "not-base64",
        "id-twice",
        "id-with-space",
        "id-too-long",
    ],
)
def test_unusable_key_lists_are_refused(value, problem):
    with pytest.raises(KeyringError, match=problem):
        parse_keyring(value)


def test_errors_never_quote_the_key():
    short = b64(os.urandom(16))
    with pytest.raises(KeyringError) as caught:
        parse_keyring(f"k1:{short}")
    assert short not in str(caught.value)


def test_every_environment_refuses_to_start_with_a_malformed_key(app_factory):
    with pytest.raises(ConfigError, match="DATA_ENCRYPTION_KEYS: data key 'k1' is 16 bytes"):
        app_factory(DATA_ENCRYPTION_KEYS=f"k1:{b64(os.urandom(16))}")
    with pytest.raises(ConfigError, match="DATA_ENCRYPTION_KEYS is empty"):
        app_factory(DATA_ENCRYPTION_KEYS="")


def test_development_gets_a_throwaway_key_that_production_refuses():
    dev_value = f"dev-only-data-key-1:{DEV_DATA_KEY_BASE64}"
    assert data_key_problems({"DATA_ENCRYPTION_KEYS": dev_value}) == []
    assert data_key_problems({"DATA_ENCRYPTION_KEYS": dev_value}, production=True) == [
        "data key 'dev-only-data-key-1' is the development-only key"
    ]
    # The same bytes under an innocent-looking id are still refused.
    renamed = f"prod1:{DEV_DATA_KEY_BASE64}"
    assert data_key_problems({"DATA_ENCRYPTION_KEYS": renamed}, production=True)
    good = f"prod1:{b64(KEY_A)}"
    assert data_key_problems({"DATA_ENCRYPTION_KEYS": good}, production=True) == []


def test_production_requires_keys_and_a_privacy_notice_url():
    with pytest.raises(ConfigError) as caught:
        ProductionConfig.validate({"DATA_ENCRYPTION_KEYS": "", "PRIVACY_NOTICE_URL": ""})
    assert "DATA_ENCRYPTION_KEYS is not set" in str(caught.value)
    assert "PRIVACY_NOTICE_URL is not set" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        ProductionConfig.validate(
            {
                "DATA_ENCRYPTION_KEYS": f"k1:{b64(os.urandom(8))}",
                "PRIVACY_NOTICE_URL": "https://example.invalid/privacy-notice?dev-only",
            }
        )
    assert "'k1' is 8 bytes" in str(caught.value)
    assert "PRIVACY_NOTICE_URL holds a development-only value" in str(caught.value)
