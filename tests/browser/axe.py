"""Accessibility checks with axe-core (vendored: ``tests/browser/vendor/README.md``).

``axe_violations(page)`` loads axe into the page and returns what it finds against WCAG 2.0,
2.1 and 2.2 at levels A and AA, plus axe's best practices (landmarks, headings). axe is loaded
with ``page.evaluate`` of its source: that runs as a DevTools evaluation, which the page's
Content Security Policy does not govern, so the strict CSP stays exactly as served (a
``<script>`` tag added with ``add_script_tag`` would be, and should be, refused by it).
Frames (Stripe's card iframe) are not entered: their content is Stripe's; the ``<iframe>``
element itself, its title included, is checked as part of our page.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from playwright.sync_api import Page

AXE_FILE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

_RUN = """async (tags) => {
  const result = await window.axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    iframes: false,
    resultTypes: ['violations'],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary})),
  }));
}"""


@cache
def axe_source() -> str:
    data = AXE_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != AXE_SHA256:
        raise AssertionError(f"{AXE_FILE} is not the vendored axe-core 4.14.1")
    return data.decode("utf-8")


def axe_violations(page: Page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;0")
    return page.evaluate(_RUN, TAGS)


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['summary']}".replace("\n", " / "))
    return "\n".join(lines)


def _reflow_violation(overflow: int) -> dict:
    return {
        "id": "reflow",
        "impact": "serious",
        "help": f"Content must fit the width without scrolling sideways ({overflow}px too wide)",
        "nodes": [],
    }


class AxeAudit:
    """Collects violations page by page, so one test reports every page at once."""

    def __init__(self) -> None:
        self.found: dict[str, list[dict]] = {}
        self.pages: list[str] = []

    def check(self, page: Page, name: str) -> None:
        """Check the page as it is, at a desktop width and at 320 CSS pixels (WCAG 1.4.10
        reflow: a phone held upright, zoomed to 400%)."""
        page.wait_for_load_state("load")
        original = page.viewport_size
        for width, height in ((1280, 800), (320, 640)):
            page.set_viewport_size({"width": width, "height": height})
            self.pages.append(f"{name} @{width}px")
            violations = axe_violations(page)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                violations = [*violations, _reflow_violation(overflow)]
            if violations:
                self.found[f"{name} @{width}px"] = violations
        if original:
            page.set_viewport_size(original)

    def assert_clean(self) -> None:
        assert self.pages, "no page was checked"
        report = "\n".join(f"[{name}]\n{describe(v)}" for name, v in self.found.items())
        assert not self.found, "axe-core found accessibility violations:\n" + report
