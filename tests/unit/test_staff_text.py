"""The one rule for a staff member's justification: said, short, no card number; the caller's
own error class and wording of what is asked for."""

from __future__ import annotations

import pytest

from portal.staff_text import MAX_JUSTIFICATION_LENGTH, checked_justification


class Refused(ValueError):
    pass


def test_whitespace_is_tidied_to_single_spaces():
    text = "  Customer asked\n\tto confirm   it "
    assert checked_justification(text, error=Refused) == "Customer asked to confirm it"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "Give a reason: it is recorded in the audit trail."),
        (" \n\t ", "Give a reason: it is recorded in the audit trail."),
        ("x" * (MAX_JUSTIFICATION_LENGTH + 1), "Keep the reason to 200 characters."),
        (
            "card 4242-4242-4242-4242 on file",
            "The reason looks like it contains a card number. Remove it.",
        ),
    ],
)
def test_what_is_refused_and_how_it_is_said(text, message):
    with pytest.raises(Refused) as refused:
        checked_justification(text, error=Refused)
    assert str(refused.value) == message


def test_the_length_is_counted_after_tidying():
    padded = "  " + "x" * MAX_JUSTIFICATION_LENGTH + "\n\n"
    assert checked_justification(padded, error=Refused) == "x" * MAX_JUSTIFICATION_LENGTH


def test_the_caller_names_what_it_asks_for():
    with pytest.raises(Refused, match=r"^Give a reason for rejecting: it is recorded"):
        checked_justification("", error=Refused, what="reason for rejecting")
