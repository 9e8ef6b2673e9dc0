"""Where the log redaction's limits fall: how deep nested fields are read, which numbers are
checked as possible card numbers, what a handler with an ordinary formatter writes once the
filter is on it (tracebacks, stack text), and how a stored header is cut and bounded."""

from __future__ import annotations

import io
import itertools
import logging
import re
from decimal import Decimal

import pytest

from portal.security.redaction import (
    _TEXT_PATTERNS,
    FILTERED_MARK,
    REDACTED,
    RedactionFilter,
    _scoped,
    redact_value,
    scrub_stored_text,
)

PAN = "4111111111111111"
_names = itertools.count()


def _nested(kind: str, levels: int, leaf: object) -> object:
    value = leaf
    for _ in range(levels):
        value = {"inner": value} if kind == "dict" else [value]
    return value


def _leaf(kind: str, value: object, levels: int) -> object:
    for _ in range(levels):
        value = value["inner"] if kind == "dict" else value[0]
    return value


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_nested_fields_are_read_eight_containers_deep_and_masked_whole_below(kind):
    kept = redact_value(_nested(kind, 8, "order 42"))
    assert _leaf(kind, kept, 8) == "order 42"
    masked = redact_value(_nested(kind, 9, "order 42"))
    assert _leaf(kind, masked, 8) == ([REDACTED] if kind == "list" else {"inner": REDACTED})
    assert _leaf(kind, redact_value(_nested(kind, 8, PAN)), 8) == "[REDACTED-PAN]"


def test_a_tuple_stays_a_tuple_and_each_item_is_read_one_level_down():
    assert redact_value((PAN, 7, ("x", PAN))) == ("[REDACTED-PAN]", 7, ("x", "[REDACTED-PAN]"))
    assert redact_value(_nested("list", 7, (PAN,))) == _nested("list", 7, ("[REDACTED-PAN]",))
    assert redact_value(_nested("list", 8, (PAN,))) == _nested("list", 8, (REDACTED,))


@pytest.mark.parametrize(
    ("number", "logged"),
    [
        (999_999_999_999, 999_999_999_999),  # 12 digits: no card number is that short
        (10**12, "1000000000000"),  # 13 digits and up: checked, and given as text
        (4222222222222, "[REDACTED-PAN]"),  # the shortest card numbers: 13 digits
        (-4222222222222, "-[REDACTED-PAN]"),
        (4111111111111111, "[REDACTED-PAN]"),
        (4111111111111111.0, "[REDACTED-PAN].0"),
        (12500, 12500),
        (12.5, 12.5),
    ],
)
def test_numbers_of_thirteen_digits_or_more_are_checked_for_card_numbers(number, logged):
    assert redact_value(number) == logged


def test_other_values_are_logged_as_their_text_with_card_numbers_masked():
    class Note:
        def __str__(self) -> str:
            return f"card {PAN} on file"

    assert redact_value(Decimal("12.50")) == "12.50"
    assert redact_value(Note()) == "card [REDACTED-PAN] on file"


@pytest.fixture
def plain_log():
    """A logger whose one handler has the redaction filter and Python's ordinary formatter."""
    buffer = io.StringIO()
    logger = logging.getLogger(f"postern.test.redaction.edges{next(_names)}")
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactionFilter())
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, buffer
    logger.handlers = []


def test_a_traceback_is_masked_by_the_filter_whatever_the_formatter(plain_log):
    logger, buffer = plain_log
    try:
        raise ValueError(f"charge failed for {PAN} with sk_live_abcDEF123")
    except ValueError:
        logger.exception("payment failed")
    written = buffer.getvalue()
    assert "Traceback (most recent call last)" in written and "ValueError" in written
    assert "charge failed for [REDACTED-PAN] with [REDACTED]" in written
    assert PAN not in written and "sk_live_abcDEF123" not in written


def test_a_traceback_another_handler_formatted_first_is_masked_too(plain_log):
    logger, buffer = plain_log
    raw = io.StringIO()
    unfiltered = logging.StreamHandler(raw)  # formats first, and leaves its text on the record
    logger.handlers.insert(0, unfiltered)
    try:
        raise ValueError(f"charge failed for {PAN}")
    except ValueError:
        logger.exception("payment failed")
    assert PAN in raw.getvalue()
    written = buffer.getvalue()
    assert "ValueError: charge failed for [REDACTED-PAN]" in written
    assert PAN not in written


def test_stack_text_is_kept_and_masked(plain_log):
    logger, buffer = plain_log
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "looked up", None, None,
        sinfo=f'Stack (most recent call last):\n  File "x.py", line 1, in f\n    lookup("{PAN}")',
    )  # fmt: skip
    logger.handle(record)
    written = buffer.getvalue()
    assert 'Stack (most recent call last):\n  File "x.py"' in written
    assert 'lookup("[REDACTED-PAN]")' in written and PAN not in written


def test_a_filtered_record_is_marked_for_the_json_formatter_and_keeps_its_message():
    """The JSON formatter redacts again only what it formats late on a marked record."""
    record = logging.makeLogRecord({"msg": "card %s of %d", "args": (PAN, 2)})
    assert RedactionFilter().filter(record) is True
    assert getattr(record, FILTERED_MARK) is True
    assert record.getMessage() == "card [REDACTED-PAN] of 2"


_SAMPLES = [
    "sk_live_abcdef",
    "SK_LIVE_abcdef",
    "whsec_abc",
    "pi_1_secret_2",
    "BEARER abc.def",
    "bearer abc",
    "Cookie: a=1",
    "PASSWORD=hunter2",
    "t=1,v1=ab",
    "/c/abcdefghij",
    "nothing here",
]


@pytest.mark.parametrize("sample", _SAMPLES)
def test_the_quick_check_finds_what_each_pattern_finds_and_keeps_case_rules_local(sample):
    """The one search that lets clean text skip the full pass is built from every pattern,
    each with its own case rule: it must find exactly what the patterns find."""
    combined = re.compile("|".join(_scoped(p) for p, _ in _TEXT_PATTERNS))
    found_by_one = any(p.search(sample) for p, _ in _TEXT_PATTERNS)
    assert (combined.search(sample) is not None) == found_by_one
    for pattern, _ in _TEXT_PATTERNS:
        alone = re.compile(_scoped(pattern))
        assert (alone.search(sample) is None) == (pattern.search(sample) is None), pattern


def test_a_case_sensitive_pattern_stays_case_sensitive_in_the_quick_check():
    stripe_key = _TEXT_PATTERNS[0][0]
    assert not stripe_key.pattern.startswith("(?i)")
    assert re.compile(_scoped(stripe_key)).search("SK_LIVE_abcdef") is None
    assert _scoped(stripe_key) == f"(?:{stripe_key.pattern})"
    bearer = next(pattern for pattern, _ in _TEXT_PATTERNS if "bearer" in pattern.pattern)
    assert _scoped(bearer) == f"(?i:{bearer.pattern[4:]})"


def test_a_header_exactly_as_long_as_its_column_is_stored_whole():
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Safari/537.36"
    agent = "x" * (255 - len(agent)) + agent
    assert len(agent) == 255
    assert scrub_stored_text(agent, 255) == agent


def test_a_header_cut_by_the_bounded_read_ends_at_its_last_word():
    """Everything back to the last letter goes at the cut: digits, dots, dashes, slashes."""
    stored = scrub_stored_text("agent/v-" + "0" * 200, 10)
    assert stored == "agent/v"


def test_only_a_bounded_head_of_a_header_is_read():
    """Four times the column: a header padded with characters that are dropped anyway stores
    nothing of what comes after them."""
    assert scrub_stored_text("\x07" * 40 + "after the padding", 10) is None
    assert scrub_stored_text("\x07" * 39 + "after the padding", 10) == "a"
