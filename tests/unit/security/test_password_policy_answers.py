"""The exact sentence a staff member reads when a new password is refused, the policy's defaults,
and the temporary passwords an administrator hands out."""

from __future__ import annotations

import pytest

from portal.security.passwords import (
    PasswordPolicyError,
    check_password_policy,
    temporary_password,
)


@pytest.mark.parametrize(
    ("password", "username", "sentence"),
    [
        ("elevenchars", "", "Use at least 12 characters."),
        ("x" * 257, "", "Use at most 256 characters."),
        (
            "q1w2e3r4t5y6",
            "",
            "This password is on a list of common or breached passwords. Choose another.",
        ),
        ("hello agent.amy 2026", "agent.amy", "The password must not contain your username."),
    ],
)
def test_a_refused_password_is_explained_in_one_exact_sentence(password, username, sentence):
    with pytest.raises(PasswordPolicyError) as refused:
        check_password_policy(password, username=username)
    assert str(refused.value) == sentence


def test_the_default_minimum_is_twelve_characters_and_no_username_is_assumed():
    check_password_policy("xxxx yyyy zz")  # exactly 12, and "xxxx" is nobody's username
    with pytest.raises(PasswordPolicyError):
        check_password_policy("xxxx yyyy z")


def test_a_temporary_password_never_contains_the_username_however_short():
    """A one-letter username turns up in a random password more often than not: every
    password handed out must still leave it out (the generator tries again)."""
    for _ in range(100):
        made = temporary_password(username="A")
        assert isinstance(made, str) and len(made) == 19
        assert "a" not in made
        check_password_policy(made, username="a")


@pytest.mark.parametrize(
    ("minimum", "length"), [(8, 19), (12, 19), (19, 19), (20, 24), (24, 24), (25, 29), (64, 64)]
)
def test_a_temporary_password_meets_any_configured_minimum(minimum, length):
    """Four groups of four, or as many more as a longer minimum needs: a policy raised above
    19 characters must not leave an administrator's reset waiting for ever."""
    made = temporary_password(username="ann", min_length=minimum)
    assert len(made) == length
    assert all(len(group) == 4 for group in made.split("-"))
    check_password_policy(made, username="ann", min_length=minimum)


def test_a_temporary_password_by_default_is_four_groups_of_four():
    assert [len(group) for group in temporary_password().split("-")] == [4, 4, 4, 4]
