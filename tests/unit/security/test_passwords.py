"""argon2id hashing and the staff password policy."""

from __future__ import annotations

import pytest

from portal.security import passwords
from portal.security.passwords import (
    PasswordPolicyError,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hashes_are_argon2id_salted_and_verify():
    first = hash_password("a long enough passphrase", fast=True)
    second = hash_password("a long enough passphrase", fast=True)
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert verify_password(first, "a long enough passphrase")
    assert not verify_password(first, "a long enough passphrasE")


def test_the_production_profile_is_the_rfc_9106_low_memory_one():
    hashed = hash_password("x" * 12)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(hashed, "x" * 12)


@pytest.mark.parametrize(
    "bad_hash", ["", "!", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$AAAA$BBBB"]
)
def test_a_malformed_hash_never_raises_and_never_matches(bad_hash):
    assert verify_password(bad_hash, "anything at all") is False


def test_a_fast_test_hash_needs_a_rehash_at_production_strength():
    fast = hash_password("a long enough passphrase", fast=True)
    assert needs_rehash(fast)
    assert not needs_rehash(fast, fast=True)
    assert not needs_rehash(hash_password("a long enough passphrase"))


def test_the_dummy_hash_matches_no_ordinary_password():
    for fast in (True, False):
        dummy = passwords.dummy_hash(fast)
        assert dummy.startswith("$argon2id$") and dummy == passwords.dummy_hash(fast)
        assert not verify_password(dummy, "")
        assert not verify_password(dummy, "correct horse battery staple 42")


def test_the_dummy_hash_costs_what_a_real_hash_costs_in_the_same_configuration():
    """Same parameters, so an unknown username takes as long as a wrong password."""

    def parameters(hashed: str) -> str:
        return hashed.split("$")[3]

    assert parameters(passwords.dummy_hash(False)) == parameters(hash_password("x" * 12))
    assert parameters(passwords.dummy_hash(True)) == parameters(hash_password("x" * 12, fast=True))


@pytest.mark.parametrize(
    ("password", "username", "reason"),
    [
        ("short", "", "at least 12 characters"),
        ("elevenchars", "", "at least 12 characters"),
        ("x" * 257, "", "at most 256 characters"),
        ("q1w2e3r4t5y6", "", "common or breached"),
        ("1QAZ2WSX3EDC", "", "common or breached"),  # the list is compared case-insensitively
        ("my name is agent.amy ok", "agent.amy", "must not contain your username"),
        ("my name is AGENT.AMY ok", "agent.amy", "must not contain your username"),
    ],
)
def test_the_policy_refuses_with_a_specific_reason(password, username, reason):
    with pytest.raises(PasswordPolicyError, match=reason):
        check_password_policy(password, username=username)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple 42",
        "twelve chars",
        "x" * 256,
        "ünïcødé pässwörd ✓",
    ],
)
def test_the_policy_accepts_long_uncommon_passwords(password):
    check_password_policy(password, username="agent.amy")


def test_the_minimum_length_is_configurable():
    with pytest.raises(PasswordPolicyError, match="at least 16"):
        check_password_policy("fifteen chars!!", min_length=16)
    check_password_policy("sixteen chars!!!", min_length=16)


def test_the_bundled_common_password_list_is_loaded():
    common = passwords._common_passwords()
    assert len(common) > 10_000
    assert "password" in common and "123456" in common
    assert all(entry == entry.lower() for entry in list(common)[:500])


def test_a_temporary_password_is_random_readable_and_passes_the_policy():
    made = {passwords.temporary_password(username="ann") for _ in range(200)}
    assert len(made) == 200  # never the same twice
    for candidate in made:
        groups = candidate.split("-")
        assert [len(group) for group in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set("abcdefghjkmnpqrstuvwxyz23456789")
        assert not set(candidate) & set("0o1li")  # nothing to misread aloud
        assert "ann" not in candidate
        check_password_policy(candidate, username="ann")  # does not raise
