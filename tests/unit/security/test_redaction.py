"""The log redaction filter, checked on the JSON lines the real handler writes."""

from __future__ import annotations

import io
import itertools
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.observability.logging import build_handler
from portal.security.redaction import (
    REDACTED,
    RedactionFilter,
    _mask_everything,
    redact_text,
    redact_value,
)

PANS = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4222222222222",  # 13 digits
    "4000000000000000006",  # 19 digits
]
_names = itertools.count()


@pytest.fixture
def emit():
    """Log through the production handler into a buffer; return the parsed JSON lines."""
    buffer = io.StringIO()
    logger = logging.getLogger(f"postern.test.redaction{next(_names)}")
    logger.handlers = [build_handler(True, stream=buffer)]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)

    def log(*args, level=logging.INFO, **kwargs) -> dict:
        start = buffer.tell()
        logger.log(level, *args, **kwargs)
        lines = buffer.getvalue()[start:].splitlines()
        assert len(lines) == 1, lines
        return json.loads(lines[0])

    log.raw = buffer
    log.logger = logger
    yield log
    logger.handlers = []


def _digits_only(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize("pan", PANS)
def test_card_numbers_in_the_message_are_masked(emit, pan):
    line = emit(f"customer read out {pan} on the call")
    assert line["message"] == "customer read out [REDACTED-PAN] on the call"


@pytest.mark.parametrize("pan", PANS)
def test_card_numbers_in_format_arguments_are_masked(emit, pan):
    line = emit("note: %s (%d chars)", f"card {pan}", len(pan))
    assert pan not in json.dumps(line)
    assert "[REDACTED-PAN]" in line["message"]


def test_card_numbers_given_as_numbers_are_masked(emit):
    line = emit("amount %s", 4111111111111111, extra={"as_int": 4111111111111111})
    assert "4111111111111111" not in json.dumps(line)
    assert line["as_int"] == "[REDACTED-PAN]"
    line = emit("x", extra={"negative": -4111111111111111, "as_float": 4111111111111111.0})
    assert "4111111111111111" not in json.dumps(line)


def test_card_numbers_in_extra_fields_are_masked_at_any_depth(emit):
    line = emit(
        "captured",
        extra={
            "note": "call back on 4111-1111-1111-1111",
            "nested": {"lines": ["ok", "card 4111 1111 1111 1111 exp 12/30"]},
            "pair": ("4222222222222", 7),
        },
    )
    text = json.dumps(line)
    for pan in ("4111111111111111", "4222222222222"):
        assert pan not in _digits_only(text) or pan not in text
    assert "4111" not in line["note"]
    assert line["nested"]["lines"][1] == "card [REDACTED-PAN] exp 12/30"
    assert line["pair"][0] == "[REDACTED-PAN]" and line["pair"][1] == 7


def test_card_numbers_and_secrets_in_exception_text_are_masked(emit, capsys):
    try:
        raise ValueError("charge failed for 4111111111111111 with sk_live_abcDEF123")
    except ValueError:
        line = emit("payment failed", level=logging.ERROR, exc_info=True)
    text = json.dumps(line)
    assert "ValueError" in text
    assert "4111111111111111" not in text
    assert "sk_live_abcDEF123" not in text
    assert "[REDACTED-PAN]" in text


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890123 shipped",  # 13 digits, not Luhn
        "reference 20240511000123",
        "call 07700 900123",
        "amount 12500 pence, request 42",
        "pi_3Nabc123 status succeeded",  # a PaymentIntent id is not a secret
        "last4 4242 brand visa",
    ],
)
def test_ordinary_numbers_and_ids_are_kept(emit, text):
    assert emit(text)["message"] == text


@pytest.mark.parametrize(
    ("secret", "survivor"),
    [
        ("sk_test_51Habc_DEF123", None),
        ("sk_live_51Habc", None),
        ("rk_live_restricted123", None),
        ("whsec_abc-DEF_123", None),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La+/xQ", None),  # standard base64: ours
        ("pstn_live_ab12cd34_Qx7-kP0_zZ9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None),
        ("pi_3Nabc123_secret_XYZ789", None),
        ("seti_1Abc_secret_Def", None),
        ("Bearer eyJhbGciOi.payload.sig", "Bearer"),
        ("bearer abc123==", "Bearer"),
        ("password=hunter2hunter2", "password="),
        ("password: hunter2hunter2", "password: "),
        ('"password": "hunter2hunter2"', '"password": "'),
        ("token=abcdef123456", "token="),
        ("csrf_token=IjQ1ZjM", "csrf_token="),
        ("api_key=key123", "api_key="),
        ("Cookie: postern_session=eyJzaWQiOiJ4In0", "Cookie: "),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: "),
        ("Proxy-Authorization: Digest abc123", "Proxy-Authorization: "),
        (
            "Stripe-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff",
            None,
        ),
        ("otp=123456", "otp="),
        ("recovery_code=abcde-fghjk", "recovery_code="),
        ("cvc=123", "cvc="),
    ],
)
def test_secrets_in_text_are_masked(emit, secret, survivor):
    line = emit(f"debug {secret} end")
    message = line["message"]
    assert REDACTED in message
    assert message.startswith("debug ")
    value = secret.split("=", 1)[-1].split(": ", 1)[-1].split(" ", 1)[-1].strip('"')
    assert value not in message
    if survivor:
        assert survivor in message


def test_every_cookie_in_a_cookie_header_line_is_masked(emit):
    line = emit("headers were Cookie: postern_session=abc123; postern_link=def456\nAccept: */*")
    assert "abc123" not in line["message"] and "def456" not in line["message"]
    assert "Accept: */*" in line["message"]


def test_sensitive_headers_and_fields_in_extra_dicts_are_masked(emit):
    line = emit(
        "webhook received",
        extra={
            "headers": {
                "Cookie": "postern_session=abc",
                "Authorization": "Bearer abc.def.ghi",
                "Stripe-Signature": "t=1,v1=abcdef",
                "Set-Cookie": "x=y",
                "Content-Type": "application/json",
            },
            "form": {"password": "hunter2", "new_password": "x", "cvc": "123", "username": "ann"},
            "password": "top level",
            "client_secret": "pi_1_secret_2",
        },
    )
    assert line["headers"] == {
        "Cookie": REDACTED,
        "Authorization": REDACTED,
        "Stripe-Signature": REDACTED,
        "Set-Cookie": REDACTED,
        "Content-Type": "application/json",
    }
    assert line["form"] == {
        "password": REDACTED,
        "new_password": REDACTED,
        "cvc": REDACTED,
        "username": "ann",
    }
    assert line["password"] == REDACTED
    assert line["client_secret"] == REDACTED


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/c/AbCdEf123456.xyz_-9", "/c/[REDACTED]"),
        ("/c/AbCdEf123456.xyz/start", "/c/[REDACTED]/start"),
        ("GET /c/eyJpZCI6IjEyMyJ9.ZmxY.abc?x=1 200", "GET /c/[REDACTED]?x=1 200"),
    ],
)
def test_link_tokens_in_paths_are_masked(emit, path, expected):
    assert emit(path)["message"] == expected


def test_a_bad_format_string_still_logs_a_redacted_line(emit):
    line = emit("value %d", "4111111111111111")
    assert "4111111111111111" not in json.dumps(line)


def test_every_line_is_valid_json_even_with_quotes_and_backslashes(emit):
    nasty = [
        'password=abc"',
        'token: "abc\\"def"',
        "password=ab\\",
        "sig t=1,v1=ab\\",
        'Stripe-Signature: t=1,v1=abc"',
        "cookie=\\\\x",
    ]
    for text in nasty:
        line = emit(text, extra={"note": text})
        assert "[REDACTED]" in line["message"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=12),
            st.sampled_from(
                [
                    "password=",
                    "token: ",
                    '"',
                    "\\",
                    "t=1,v1=ab",
                    "Bearer ",
                    "/c/abcdefghij",
                    "4111 1111 1111 1111",
                    "sk_test_x",
                    " ",
                    "=",
                ]
            ),
        ),
        max_size=12,
    )
)
def test_redaction_never_breaks_a_json_line(pieces):
    buffer = io.StringIO()
    logger = logging.getLogger("postern.test.redaction.fuzz")
    logger.handlers = [build_handler(True, stream=buffer)]
    logger.propagate = False
    text = "".join(pieces)
    logger.warning(text, extra={"field": text})
    line = json.loads(buffer.getvalue())
    assert line["level"] == "WARNING"


_LOG_FRAGMENTS = st.sampled_from(
    [
        "password=",
        "Token: ",
        "COOKIE: ",
        "Authorization: Basic ",
        "t=1,v1=ab",
        "bearer ",
        "/c/abcdefghij",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "42424242424242424242",
        "sk_test_x",
        "rk_live_",
        "whsec_a",
        "pi_1_secret_2",
        "stripe-signature",
        " ",
        "-",
        "=",
        ":",
        '"',
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=8), st.text(alphabet="0123456789 -", max_size=20), _LOG_FRAGMENTS
        ),
        max_size=10,
    )
)
def test_the_quick_check_never_skips_what_the_full_pass_would_mask(pieces):
    """Proves: ``redact_text`` answers exactly as the full pass would; its one-search shortcut
    for text with nothing to mask changes speed, never the result."""
    text = "".join(pieces)
    assert redact_text(text) == _mask_everything(text)


def test_text_lines_are_redacted_too():
    buffer = io.StringIO()
    logger = logging.getLogger("postern.test.redaction.text")
    logger.handlers = [build_handler(False, stream=buffer)]
    logger.propagate = False
    logger.warning("card %s secret sk_test_abc", "4111111111111111")
    assert "4111111111111111" not in buffer.getvalue()
    assert "sk_test_abc" not in buffer.getvalue()


def test_the_filter_keeps_every_record():
    record = logging.makeLogRecord({"msg": "card %s", "args": ("4111111111111111",)})
    assert RedactionFilter().filter(record) is True
    assert record.getMessage() == "card [REDACTED-PAN]"


def test_redact_value_handles_containers_and_depth():
    assert redact_value({"a": ["4111111111111111", {"token": "x"}]}) == {
        "a": ["[REDACTED-PAN]", {"token": REDACTED}]
    }
    assert redact_value({"x", "4222222222222"}) == {"x", "[REDACTED-PAN]"}
    assert redact_value(None) is None and redact_value(True) is True and redact_value(42) == 42
    deep: object = "4111111111111111"
    for _ in range(20):
        deep = [deep]
    flattened = json.dumps(redact_value(deep))
    assert "4111111111111111" not in flattened


def test_redact_text_is_idempotent():
    text = "card 4111111111111111 password=x Bearer abc /c/abcdefghijk"
    once = redact_text(text)
    assert redact_text(once) == once


def test_the_json_formatter_alone_still_redacts_every_field():
    """Proves: the JSON formatter's own pass covers every field of a record no redaction
    filter has seen (a handler built without one), and the filter's mark never reaches the
    output of a record that went through the filter."""
    from portal.observability.logging import RedactingJsonFormatter

    formatter = RedactingJsonFormatter("%(message)s")
    record = logging.makeLogRecord(
        {"msg": "card %s", "args": ("4111111111111111",), "note": "pan 4111 1111 1111 1111"}
    )
    line = json.loads(formatter.format(record))
    assert "4111" not in json.dumps(line) and line["note"].startswith("pan ")

    RedactionFilter().filter(record)
    assert "postern_redacted" not in json.loads(formatter.format(record))
