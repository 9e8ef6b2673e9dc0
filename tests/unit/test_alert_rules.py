"""The Prometheus alerting rules (config/prometheus/alerts.yml) are valid and do what their
unit tests (alerts_test.yml) say: every alert fires on the series it is meant for and stays
quiet on the others.

Needs ``promtool`` (Debian's ``prometheus`` package). Missing, the test fails rather than
skips: an untested rules file must not pass as a tested one.
"""

from __future__ import annotations

import shutil
import subprocess

import yaml

from config.settings import PROJECT_ROOT

RULES_DIR = PROJECT_ROOT / "config" / "prometheus"
RULES = RULES_DIR / "alerts.yml"
RULE_TESTS = RULES_DIR / "alerts_test.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install Debian's prometheus package"
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, cwd=RULES_DIR, check=False
    )


def test_the_rules_are_valid():
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rules_pass_their_unit_tests():
    result = _promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_has_a_severity_a_summary_and_a_runbook_in_the_docs():
    docs = (PROJECT_ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    for rule in _alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["runbook"], name
        assert annotations["runbook_url"] == f"docs/alerts.md#{name.lower()}", name
        assert f"### {name}" in docs, f"docs/alerts.md has no section for {name}"


def test_every_alert_is_tested_firing_and_quiet():
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for rule in _alerts():
        name = rule["alert"]
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name} is never tested firing"
        assert any(not case["exp_alerts"] for case in mine), f"{name} is never tested quiet"
