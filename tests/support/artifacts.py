"""Where a test run leaves its screenshots and logs, and the scan of those logs for card
numbers (run by ``pytest_sessionfinish`` in tests/conftest.py and by
tests/security/test_logs_masked.py)."""

from __future__ import annotations

import os
from pathlib import Path

#: Screenshots and logs of the run. POSTERN_TEST_ARTIFACTS moves them, so that two runs side by
#: side (say, two checkouts sharing a machine) never truncate each other's logs.
ARTIFACTS = Path(
    os.environ.get("POSTERN_TEST_ARTIFACTS") or Path(__file__).parents[1] / "_artifacts"
)
SUITE_LOG_NAME = "suite.log"


def suite_log_path() -> Path:
    """Where this test process tees every log record (one file per xdist worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return ARTIFACTS / (f"suite-{worker}.log" if worker else SUITE_LOG_NAME)


def unmasked_card_numbers_in_logs(root: Path = ARTIFACTS) -> list[str]:
    """``file:line: <line with the number masked>`` for every log line holding a card number,
    in tests/_artifacts/suite*.log, reliability/*.log and prodlike/*/*.log."""
    from portal.security.pan import find_pans, mask_pans

    found = []
    files = [
        *sorted(root.glob("suite*.log")),
        *sorted((root / "reliability").glob("*.log")),
        *sorted((root / "prodlike").glob("*/*.log")),  # tests/prodlike: app, workers, nginx
    ]
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if next(find_pans(line), None) is not None:
                    found.append(f"{path.name}:{number}: {mask_pans(line.strip())[:300]}")
    return found
