"""safe_next: only same-site absolute paths survive; everything else falls back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.security.redirects import safe_next

FALLBACK = "/home"

HOSTILE = [
    None,
    "",
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http://evil.example/agent/",
    "HTTPS://evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\x00/evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    " //evil.example",
    "evil.example",
    "agent/",
    "./agent/",
    "../agent/",
    "?next=//evil.example",
    "#//evil.example",
    "mailto:someone@evil.example",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_or_relative_targets_fall_back(target):
    assert safe_next(target, FALLBACK) == FALLBACK


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/agent/",
        "/backoffice/",
        "/account?tab=security",
        "/agent/requests/42?view=live&x=1",
        "/account#mfa",
        "/%5Cevil",  # still encoded: a browser keeps it in the path of this site
        "/a//b",  # a double slash later in the path stays on this site
        "/c/abc.def",
    ],
)
def test_same_site_paths_are_kept(target):
    assert safe_next(target, FALLBACK) == target


def test_the_fallback_is_returned_unchanged():
    assert safe_next("//evil", "") == ""
    assert safe_next(None, "/agent/") == "/agent/"


@given(st.text(max_size=40))
def test_whatever_comes_back_stays_on_this_site(target):
    result = safe_next(target, FALLBACK)
    assert result in (FALLBACK, target)
    if result == target:
        assert target.startswith("/")
        assert not target.startswith("//")
        assert "\\" not in target
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)


@given(st.text(alphabet="/\\:.@ \tab%5Cx", max_size=12))
def test_browser_normalisation_cannot_turn_a_kept_target_into_another_host(target):
    """What a browser does with a Location: strip tabs and newlines, read \\ as /."""
    result = safe_next(target, FALLBACK)
    normalised = result.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    assert normalised.startswith("/") and not normalised.startswith("//")
