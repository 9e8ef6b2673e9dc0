"""One home per name: the attempt limit and Stripe's 3-D Secure failure code each live in one
module, and what only reads the limit does not import the code that applies Stripe's facts."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[3] / "portal"
#: Modules that show payments (reports, exports, the agent's panel): readers of the limit.
READERS = [
    "portal.reporting.stats",
    "portal.reporting.queries",
    "portal.reporting.export_copy",
    "portal.reporting.export_format",
    "portal.reporting.payment_columns",
    "portal.live_status.standings",
    "portal.live_status.panel",
]


def _modules_assigning(name: str) -> list[str]:
    found = []
    for path in sorted(PORTAL.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            if any(isinstance(target, ast.Name) and target.id == name for target in targets):
                found.append(str(path.relative_to(PORTAL.parent)))
    return found


def test_the_authentication_failure_code_has_one_home():
    assert _modules_assigning("AUTHENTICATION_FAILURE") == ["portal/payments/facts.py"]


def test_the_attempt_limit_has_one_home():
    homes = []
    for path in sorted(PORTAL.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "max_attempts" for node in tree.body
        ):
            homes.append(str(path.relative_to(PORTAL.parent)))
    assert homes == ["portal/payments/attempt_limit.py"]


def test_readers_of_the_limit_do_not_import_the_payment_sync():
    """Reporting, standings and exports read the limit; importing them must not pull in
    ``portal.payments.sync`` (which applies Stripe's facts), directly or through another."""
    script = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in READERS)
        + "print('portal.payments.sync' in sys.modules)\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=PORTAL.parent,
    )
    assert answer.stdout.strip() == "False"
