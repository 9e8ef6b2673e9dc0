"""What the generated bad-input tests share (tests/security/test_bad_input_*.py): text of every
awkward kind, a bounded Hypothesis budget, and the check that a rejection explains itself."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n\t\x0b\x0c",
    "\u202eevil",
    "\ufeff",
    "💳💳",
    "ǅǈ",
    "' OR '1'='1' --",
    "<script>alert(1)</script>",
    "{{ 7*7 }}{% raw %}",
    "%s%n%x",
    "../../etc/passwd",
    "-1",
    "1e309",
    "NaN",
    "0x1F",
    "٣٤",
    "99999999999999999999999",
]
junk = st.one_of(
    st.text(max_size=120),
    st.sampled_from(NASTY),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=300, max_value=70_000).map(lambda n: "Ω" * n),
)
BOUNDED = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
_SUMMARY_LINK = re.compile(r'<div class="error-summary"[^>]*role="alert".*?</div>', re.S)


def assert_explained(response, *, form_page: bool = True) -> None:
    """A rejection that says what is wrong; never a server error."""
    assert response.status_code < 500, response.status_code
    if response.status_code in (302, 303):
        return
    text = response.get_data(as_text=True)
    if response.is_json:
        body = response.get_json()
        assert body.get("error") and (body.get("message") or isinstance(body["error"], str))
        return
    if response.status_code == 413:
        assert "That was too large" in text
        return
    if form_page and 'class="error-summary"' in text:
        summary = _SUMMARY_LINK.search(text)
        assert summary, "error summary without role=alert"
        for target in re.findall(r'href="#([^"]+)"', summary.group(0)):
            assert f'for="{target}"' in text or f'id="{target}"' in text, target
        return
    # Otherwise an error page: a heading in plain words.
    assert re.search(r"<h1[^>]*>[^<]{8,}</h1>", text), text[:500]
