"""deploy/grafana: the dashboard's queries name only metrics the services export, the JSON has what
Grafana needs to load a dashboard, and docker-compose provisions it with Prometheus as its source."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client.registry import REGISTRY

import backend.core.cache.metrics
import backend.core.knowledge.metrics
import backend.core.llm.metrics
import backend.core.metrics
import backend.doctor.auth.metrics  # noqa: F401  (registers the metrics the dashboard reads)

from .conftest import DEPLOY_DIR, PROJECT_ROOT

GRAFANA_DIR = DEPLOY_DIR / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "medqa.json"

# What Grafana's dashboard model (schemaVersion 39) needs for a provisioned dashboard to load and
# draw: https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/
_GRID = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
    },
}
_DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"type": "string"}},
}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "time", "templating"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "time": {"type": "object", "required": ["from", "to"]},
        "refresh": {"type": "string"},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {"type": "object", "required": ["name", "type"]},
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"enum": ["timeseries", "stat", "gauge", "table", "bargauge", "heatmap"]},
                    "title": {"type": "string", "minLength": 1},
                    "gridPos": _GRID,
                    "datasource": _DATASOURCE,
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr"],
                            "properties": {
                                "refId": {"type": "string", "pattern": "^[A-Z]$"},
                                "expr": {"type": "string", "minLength": 1},
                                "datasource": _DATASOURCE,
                            },
                        },
                    },
                },
            },
        },
    },
}

# The ops views the issue asks for, each found by a metric its panel must read.
REQUIRED_VIEWS = {
    "requests": "medqa_http_requests_total",
    "latency percentiles": "medqa_http_request_duration_seconds_bucket",
    "cache hit ratio by tier": "medqa_cache_requests_total",
    "store loads": "medqa_kb_store_loads_total",
    "store evictions": "medqa_kb_store_evictions_total",
    "LLM calls": "medqa_llm_calls_total",
    "breaker state": "medqa_llm_breaker_state",
    "rate-limit rejections": "medqa_rate_limited_total",
    "Redis fallbacks": "medqa_rate_limit_memory_fallback_total",
    "worker restarts": "medqa_worker_starts_total",
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def exported_metric_names() -> set[str]:
    """Every series name the services' /metrics can show, suffixes included."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("medqa_"):
            names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
    return names


def queried_metrics(dashboard: dict[str, Any]) -> set[str]:
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [var["definition"] for var in dashboard["templating"]["list"] if "definition" in var]
    return {name for expr in exprs for name in re.findall(r"\bmedqa_[a-z0-9_]+", expr)}


def test_the_dashboard_has_what_grafana_needs_to_load_it(dashboard: dict[str, Any]) -> None:
    # jsonschema comes with check-jsonschema (dev dependency); imported by name as it has no stubs.
    importlib.import_module("jsonschema").validate(dashboard, DASHBOARD_SCHEMA)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} sticks out of the 24-column grid"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{panel['title']} repeats a refId"


def test_every_query_names_a_metric_the_services_export(dashboard: dict[str, Any]) -> None:
    queried = queried_metrics(dashboard)
    unknown = queried - exported_metric_names()
    assert not unknown, f"the dashboard reads metrics nobody exports: {sorted(unknown)}"
    missing = {view for view, metric in REQUIRED_VIEWS.items() if metric not in queried}
    assert not missing, f"views missing from the dashboard: {sorted(missing)}"


def test_queries_keep_to_label_names_the_metrics_have(dashboard: dict[str, Any]) -> None:
    labels: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        for metric_name in {family.name, family.name + "_total", family.name + "_bucket"}:
            collector = REGISTRY._names_to_collectors.get(metric_name)
            if collector is not None:
                labels.setdefault(metric_name, set()).update(getattr(collector, "_labelnames", ()))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for metric, matchers in re.findall(r"\b(medqa_[a-z0-9_]+)\{([^}]*)\}", target["expr"]):
                used = set(re.findall(r"([a-z_]+)\s*[=!]~?", matchers))
                allowed = labels.get(metric, set()) | ({"le"} if metric.endswith("_bucket") else set())
                assert used <= allowed, f"{panel['title']}: {metric} has no label {sorted(used - allowed)}"


def test_compose_provisions_grafana_with_prometheus_and_the_dashboard() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"
    assert "prometheus" in grafana["depends_on"]
    # Published on loopback only, like Prometheus: the admin sign-in is not for the internet.
    assert all(port.startswith("127.0.0.1:") for port in grafana["ports"])

    sources = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panel_sources = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    assert panel_sources == {source["uid"]}

    providers = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "medqa.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
