"""docker-compose.yml: valid against the Compose Specification JSON schema (vendored offline by
the check-jsonschema package), and its services fit the rest of deploy/ (nginx upstreams,
Prometheus targets, the grace period)."""

from __future__ import annotations

import importlib
import importlib.resources
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DEPLOY_DIR, PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
API_SERVICES = {"doctor": 8000, "patient": 8001}

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> Doc:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))  # resolves anchors and <<
    assert isinstance(document, dict)
    return document


def duration_seconds(value: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value)
    assert "".join(n + u for n, u in parts) == value, f"not a duration: {value!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def depends_on(service: Doc) -> dict[str, str]:
    value = service.get("depends_on", {})
    if isinstance(value, list):
        return dict.fromkeys(value, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in value.items()}


def test_validates_against_the_compose_spec_schema(compose: Doc) -> None:
    try:
        jsonschema = importlib.import_module("jsonschema")
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    except ImportError:
        pytest.fail(
            "check-jsonschema is not installed (it ships the compose-spec JSON schema, no network "
            "needed): pip install 'check-jsonschema==0.39.0'",
            pytrace=False,
        )
    schema = json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "docker-compose.yml does not follow the Compose Specification:\n" + "\n".join(errors)
    # And the check is not a no-op: a misspelt key is refused.
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["healthchek"] = broken["services"]["redis"].pop("healthcheck")
    assert list(validator.iter_errors(broken))


def test_services_and_healthchecks(compose: Doc) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "doctor", "patient", "nginx", "prometheus"} <= set(services)
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name}: no healthcheck"
        assert test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck.test must be CMD or CMD-SHELL"
        assert service.get("restart") in ("unless-stopped", "always"), f"{name}: no restart policy"


def test_redis_keeps_an_append_only_file_on_a_volume(compose: Doc) -> None:
    redis = compose["services"]["redis"]
    assert str(redis["image"]).startswith("redis:")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume = next(v for v in redis["volumes"] if v.endswith(":/data"))
    assert volume.split(":", 1)[0] in compose["volumes"], "Redis data is not on a named volume"
    assert "PONG" in " ".join(redis["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(API_SERVICES))
def test_api_services(compose: Doc, name: str) -> None:
    service = compose["services"][name]
    environment = service["environment"]
    assert (PROJECT_ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert service["deploy"]["replicas"] >= 2
    assert environment["MEDQA_SERVICE"] == name
    assert environment["HOST"] == "0.0.0.0"
    assert environment[f"{name.upper()}_PORT"] == str(API_SERVICES[name])
    assert environment["WORKERS"] == "4"
    assert environment["DRAIN_SECONDS"] == "5"
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert depends_on(service) == {"redis": "service_healthy", "postgres": "service_healthy"}
    assert environment["DATABASE_URL"].startswith("postgresql://medqa:")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/medqa")
    assert "/readyz" in service["healthcheck"]["test"] or "/healthz" in service["healthcheck"]["test"]
    assert "ports" not in service, "the APIs are reached through nginx only"

    grace = duration_seconds(service["stop_grace_period"])
    assert grace > float(environment["DRAIN_SECONDS"]) + float(environment["GRACEFUL_TIMEOUT"])

    # Read-only root; DATA_DIR and /tmp writable.
    assert service["read_only"] is True
    tmpfs = [entry.split(":", 1)[0] for entry in service["tmpfs"]]
    assert environment["DATA_DIR"] in tmpfs
    assert "/tmp" in tmpfs

    # X-Forwarded-For is trusted from the network nginx reaches the APIs on, and nothing wider.
    trusted = [ipaddress.ip_network(item) for item in environment["FORWARDED_ALLOW_IPS"].split(",")]
    subnets = [
        ipaddress.ip_network(config["subnet"])
        for network in service["networks"]
        for config in compose["networks"][network]["ipam"]["config"]
    ]
    assert trusted == subnets
    assert set(service["networks"]) <= set(compose["services"]["nginx"]["networks"])


def test_nginx_waits_for_healthy_apis_and_proxies_to_them(compose: Doc) -> None:
    nginx = compose["services"]["nginx"]
    assert depends_on(nginx) == dict.fromkeys(API_SERVICES, "service_healthy")
    assert {"3000:3000", "3001:3001"} <= set(nginx["ports"])
    assert (PROJECT_ROOT / nginx["build"]["context"] / nginx["build"]["dockerfile"]).is_file()

    nginx_conf = (DEPLOY_DIR / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    upstream_servers = set(re.findall(r"^\s*server\s+([\w.-]+):(\d+)\b", nginx_conf, re.MULTILINE))
    assert upstream_servers == {(name, str(port)) for name, port in API_SERVICES.items()}
    for name, port in upstream_servers:
        assert compose["services"][name]["environment"][f"{name.upper()}_PORT"] == port


def test_prometheus_scrapes_every_instance(compose: Doc) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((DEPLOY_DIR / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    discovered: set[tuple[str, int]] = set()
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            # One DNS name per service, type A: every replica's address becomes a target.
            assert sd["type"] == "A"
            assert job.get("metrics_path", "/metrics") == "/metrics"
            discovered.update((name, sd["port"]) for name in sd["names"])
    assert discovered == set(API_SERVICES.items())
    assert set(prometheus["networks"]) & set(compose["services"]["doctor"]["networks"])


def test_images_used_exist_on_disk_or_are_pinned(compose: Doc) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            dockerfile = Path(service["build"]["context"]) / service["build"]["dockerfile"]
            assert (PROJECT_ROOT / dockerfile).is_file(), f"{name}: {dockerfile} missing"
        else:
            image = str(service["image"])
            assert ":" in image, f"{name}: pin the image tag"
            assert not image.endswith(":latest"), f"{name}: pin the image tag"


def test_postgres_keeps_its_data_on_a_volume_and_reports_health(compose: Doc) -> None:
    postgres = compose["services"]["postgres"]
    assert str(postgres["image"]).startswith("postgres:15")
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "postgres-data" in compose["volumes"]
    assert "${POSTGRES_PASSWORD:?" in (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
