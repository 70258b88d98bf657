"""deploy/prometheus: promtool (Debian package prometheus) checks the config and the rules, and
runs the rules' unit tests in tests/deploy/prometheus/alerts_test.yml."""

from __future__ import annotations

from typing import Any

import yaml

from .conftest import DEPLOY_DIR, PROJECT_ROOT, run_tool

PROMETHEUS_DIR = DEPLOY_DIR / "prometheus"
RULE_TESTS = PROJECT_ROOT / "tests" / "deploy" / "prometheus" / "alerts_test.yml"
REQUIRED_ALERTS = {"MedqaInstanceDown", "MedqaHigh5xxRatio", "MedqaHighLatencyP99", "MedqaNotReady"}


def load_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_promtool_check_config(promtool_bin: str) -> None:
    result = run_tool([promtool_bin, "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules(promtool_bin: str) -> None:
    result = run_tool([promtool_bin, "check", "rules", "alerts.yml"], cwd=PROMETHEUS_DIR, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_as_intended(promtool_bin: str) -> None:
    result = run_tool([promtool_bin, "test", "rules", str(RULE_TESTS)], cwd=PROJECT_ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_cover_the_required_alerts_and_are_annotated() -> None:
    rules = load_rules()
    names = {rule["alert"] for rule in rules}
    assert names >= REQUIRED_ALERTS
    tested = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    tested_names = {case["alertname"] for test in tested["tests"] for case in test["alert_rule_test"]}
    assert names <= tested_names, f"alerts without a unit test: {sorted(names - tested_names)}"
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert "for" in rule, f"{rule['alert']} would fire on a single evaluation"


def test_prometheus_loads_the_rules_and_scrapes_both_services() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"medqa-doctor", "medqa-patient"} <= jobs
    # The alert rules select these jobs by name.
    assert all(job.startswith("medqa-") for job in jobs - {"prometheus"})
