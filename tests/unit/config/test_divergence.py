"""The testing configuration differs from production only where a listed reason says so.

The comparison runs in a fresh interpreter with none of Postern's variables set, so the
classes hold their own defaults, not whatever the machine running the suite exports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from config.settings import TESTING_DIFFERS_FROM_PRODUCTION

ROOT = Path(__file__).resolve().parents[3]

_COMPARE = """
import json
from config.settings import ProductionConfig, TestingConfig

ABSENT = object()
names = {name for cls in (TestingConfig, ProductionConfig) for name in dir(cls) if name.isupper()}
print(json.dumps(sorted(
    name for name in names
    if getattr(TestingConfig, name, ABSENT) != getattr(ProductionConfig, name, ABSENT)
)))
"""


def settings_that_differ() -> list[str]:
    """Names of the settings whose testing and production values differ, by default."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    answer = subprocess.run(
        [sys.executable, "-c", _COMPARE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(answer.stdout)


def test_every_difference_between_testing_and_production_is_listed_with_its_reason():
    differ = set(settings_that_differ())
    listed = set(TESTING_DIFFERS_FROM_PRODUCTION)
    assert differ - listed == set(), (
        "testing differs from production in settings nobody listed with a reason "
        "(config/settings.py TESTING_DIFFERS_FROM_PRODUCTION)"
    )
    assert listed - differ == set(), "listed as different, but the two configurations agree"


def test_each_listed_difference_says_why():
    for name, reason in TESTING_DIFFERS_FROM_PRODUCTION.items():
        assert len(reason.split()) >= 4, f"{name}: the reason is not a sentence: {reason!r}"


def test_the_csrf_referer_check_is_not_among_the_differences():
    """It was once switched off for tests, and no HTTPS form could be posted in production."""
    assert "WTF_CSRF_SSL_STRICT" not in settings_that_differ()
