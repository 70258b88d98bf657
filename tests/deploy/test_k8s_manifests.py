"""deploy/k8s: every document parses, validates against the Kubernetes OpenAPI schemas shipped
offline by the kubernetes-validate package (strict: unknown fields are errors), and the pieces
fit together (selectors, probes, security context, grace period, the nginx config copy).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .conftest import DEPLOY_DIR

K8S_DIR = DEPLOY_DIR / "k8s"
NAMESPACE = "medqa"
API_SERVICES = {"doctor": 8000, "patient": 8001}
# The oldest Kubernetes minor these manifests claim to support, and the newest the package knows.
OLDEST_KUBERNETES = "1.29.0"

Doc = dict[str, Any]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def load_documents() -> list[tuple[Path, Doc]]:
    documents: list[tuple[Path, Doc]] = []
    for path in manifest_files():
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                assert isinstance(document, dict), f"{path.name}: a document is not a mapping"
                documents.append((path, document))
    return documents


DOCUMENTS = load_documents()


def ident(item: tuple[Path, Doc]) -> str:
    path, doc = item
    return f"{path.name}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def of_kind(kind: str) -> list[Doc]:
    return [doc for _, doc in DOCUMENTS if doc["kind"] == kind]


def named(kind: str, name: str) -> Doc:
    matches = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def workloads() -> list[Doc]:
    return of_kind("Deployment") + of_kind("StatefulSet")


def pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def all_containers(workload: Doc) -> Iterator[Doc]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def seconds(value: str) -> float:
    return float(value)


@pytest.fixture(scope="session")
def kubernetes_validate() -> ModuleType:
    try:
        return importlib.import_module("kubernetes_validate")
    except ImportError:
        pytest.fail(
            "kubernetes-validate is not installed (it ships the Kubernetes JSON schemas, no network "
            "needed): pip install 'kubernetes-validate==1.37.0'",
            pytrace=False,
        )


# --- parsing and schema validation ---------------------------------------------------------------


def test_every_file_parses_and_names_its_namespace() -> None:
    assert manifest_files(), "no manifests in deploy/k8s"
    kinds = {doc["kind"] for _, doc in DOCUMENTS}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "StatefulSet",
    } <= kinds
    for path, doc in DOCUMENTS:
        assert doc.get("apiVersion"), f"{path.name}: apiVersion missing"
        assert doc.get("kind"), f"{path.name}: kind missing"
        metadata = doc.get("metadata") or {}
        assert metadata.get("name"), f"{path.name}: metadata.name missing"
        if doc["kind"] != "Namespace":
            assert metadata.get("namespace") == NAMESPACE, f"{ident((path, doc))}: not in {NAMESPACE}"
    names = [(doc["kind"], doc["metadata"]["name"]) for _, doc in DOCUMENTS]
    assert len(names) == len(set(names)), "a resource is defined twice"


@pytest.mark.parametrize("item", DOCUMENTS, ids=ident)
def test_validates_against_kubernetes_schema(kubernetes_validate: ModuleType, item: tuple[Path, Doc]) -> None:
    _, doc = item
    for version in (OLDEST_KUBERNETES, kubernetes_validate.latest_version()):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            location = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{ident(item)} is invalid for Kubernetes {version}: {location}: {exc.message}")


def test_schema_validation_is_real(kubernetes_validate: ModuleType) -> None:
    """A typo in a field name must be caught: the check above is not a no-op."""
    deployment = yaml.safe_load(yaml.safe_dump(named("Deployment", "doctor")))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, OLDEST_KUBERNETES, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["namespace"] == NAMESPACE
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files())


# --- the API Deployments ---------------------------------------------------------------------------


def config_value(key: str) -> str:
    value = named("ConfigMap", "medqa-config")["data"][key]
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize("service", sorted(API_SERVICES))
def test_api_deployment(service: str) -> None:
    port = API_SERVICES[service]
    deployment = named("Deployment", service)
    spec = pod_spec(deployment)
    [container] = spec["containers"]

    env = {item["name"]: item for item in container.get("env", [])}
    assert env["MEDQA_SERVICE"]["value"] == service
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "medqa-secrets"
    assert {"configMapRef": {"name": "medqa-config"}} in container["envFrom"]
    assert config_value("WORKERS") == "4"
    assert config_value("HOST") == "0.0.0.0"
    assert config_value(f"{service.upper()}_PORT") == str(port)
    # Service links would set DOCTOR_PORT/PATIENT_PORT to "tcp://ip:port".
    assert spec.get("enableServiceLinks") is False

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", port)

    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert {"cpu", "memory"} <= set(resources["limits"])

    drain, graceful = seconds(config_value("DRAIN_SECONDS")), seconds(config_value("GRACEFUL_TIMEOUT"))
    assert spec["terminationGracePeriodSeconds"] > drain + graceful

    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    for path in (config_value("DATA_DIR"), "/tmp"):
        assert path in mounts, f"{service}: nothing mounted at {path}"
        assert "emptyDir" in volumes[mounts[path]], f"{service}: {path} is not an emptyDir"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_api_pods_are_scraped_by_prometheus_annotations() -> None:
    for service, port in API_SERVICES.items():
        annotations = named("Deployment", service)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: f"{w['kind']}/{w['metadata']['name']}")
def test_pods_meet_the_restricted_pod_security_standard(workload: Doc) -> None:
    spec = pod_spec(workload)
    pod_context = spec.get("securityContext", {})
    assert pod_context.get("runAsNonRoot") is True
    assert pod_context.get("runAsUser", 1) != 0
    assert pod_context.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert spec.get("automountServiceAccountToken") is False
    for container in all_containers(workload):
        context = container.get("securityContext", {})
        assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True
        assert context.get("allowPrivilegeEscalation") is False
        assert context.get("capabilities", {}).get("drop") == ["ALL"]
        assert context.get("readOnlyRootFilesystem") is True
        assert container.get("resources", {}).get("limits"), f"{container['name']}: no limits"
        assert {"livenessProbe", "readinessProbe"} <= set(container), f"{container['name']}: probes"
        assert not str(container["image"]).endswith(":latest")


# --- how the resources refer to each other --------------------------------------------------------


def test_workload_selectors_match_their_pod_labels() -> None:
    for workload in workloads():
        selector = workload["spec"]["selector"]["matchLabels"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selects(selector, labels), workload["metadata"]["name"]


def test_services_select_pods_and_name_their_ports() -> None:
    for svc in of_kind("Service"):
        selector = svc["spec"]["selector"]
        targets = [w for w in workloads() if selects(selector, pod_labels(w))]
        assert len(targets) == 1, f"Service {svc['metadata']['name']} selects {len(targets)} workloads"
        container_ports = {
            p["name"]: p["containerPort"] for c in all_containers(targets[0]) for p in c["ports"]
        }
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            assert target in container_ports or target in container_ports.values()
    for service, port in API_SERVICES.items():
        assert [p["port"] for p in named("Service", service)["spec"]["ports"]] == [port]


def test_hpa_and_pdb_target_the_api_deployments() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    hpas = of_kind("HorizontalPodAutoscaler")
    assert {h["metadata"]["name"] for h in hpas} >= set(API_SERVICES)
    for hpa in hpas:
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        assert target["name"] in deployments
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["metrics"], "the HPA has no metric"

    pdbs = of_kind("PodDisruptionBudget")
    covered = set()
    for pdb in pdbs:
        assert pdb["apiVersion"] == "policy/v1"
        selector = pdb["spec"]["selector"]["matchLabels"]
        matched = [n for n, d in deployments.items() if selects(selector, pod_labels(d))]
        assert len(matched) == 1, f"PDB {pdb['metadata']['name']} selects {matched}"
        covered.update(matched)
        replicas = deployments[matched[0]]["spec"]["replicas"]
        assert pdb["spec"].get("minAvailable", 0) < replicas, "the PDB would block every eviction"
    assert set(API_SERVICES) <= covered


def test_redis_persists_with_aof() -> None:
    redis = named("StatefulSet", "redis")
    [container] = pod_spec(redis)["containers"]
    args = container.get("args", []) + container.get("command", [])
    assert "--appendonly" in args
    assert args[args.index("--appendonly") + 1] == "yes"
    assert any(m["mountPath"] == "/data" for m in container["volumeMounts"])
    assert redis["spec"]["volumeClaimTemplates"], "Redis data is not on a persistent volume"
    assert named("Service", redis["spec"]["serviceName"])["spec"]["clusterIP"] == "None"


def test_postgres_is_a_stateful_set_on_a_volume_with_probes_and_a_backup_note() -> None:
    postgres = named("StatefulSet", "postgres")
    [container] = pod_spec(postgres)["containers"]
    assert str(container["image"]).startswith("postgres:15")
    assert postgres["spec"]["volumeClaimTemplates"], "the database is not on a persistent volume"
    assert any(m["mountPath"] == "/var/lib/postgresql/data" for m in container["volumeMounts"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "pg_isready" in container[probe]["exec"]["command"]
    password = next(e for e in container["env"] if e["name"] == "POSTGRES_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "medqa-secrets", "key": "POSTGRES_PASSWORD"}
    assert named("Service", postgres["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    assert "pg_dump" in (DEPLOY_DIR / "k8s" / "postgres.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(API_SERVICES))
def test_api_pods_take_database_url_from_the_secret(name: str) -> None:
    [container] = pod_spec(named("Deployment", name))["containers"]
    env = {e["name"]: e for e in container.get("env", [])}
    reference = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert reference == {"name": "medqa-secrets", "key": "DATABASE_URL"}


def test_secret_is_only_a_template() -> None:
    secret = named("Secret", "medqa-secrets")
    assert "data" not in secret, "base64 data in a committed Secret"
    values = secret["stringData"]
    assert {"REDIS_URL", "REDIS_PASSWORD", "SECRET_KEY", "ADMIN_PASSWORD", "METRICS_TOKEN"} <= set(values)
    assert {"DATABASE_URL", "POSTGRES_PASSWORD"} <= set(values)
    assert all("CHANGE_ME" in value for value in values.values()), "a committed Secret holds a real value"


def test_web_tier_uses_the_same_nginx_conf_and_reaches_the_api_services() -> None:
    nginx_conf = (DEPLOY_DIR / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    assert named("ConfigMap", "medqa-nginx")["data"]["nginx.conf"] == nginx_conf, (
        "deploy/k8s/web.yaml's ConfigMap must be a verbatim copy of deploy/nginx/nginx.conf"
    )
    servers = set(re.findall(r"^\s*server\s+([\w.-]+):(\d+)\b", nginx_conf, re.MULTILINE))
    assert servers == {(name, str(port)) for name, port in API_SERVICES.items()}

    web = named("Deployment", "web")
    [container] = pod_spec(web)["containers"]
    assert {p["containerPort"] for p in container["ports"]} == {3000, 3001}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/nginx/nginx.conf"]["subPath"] == "nginx.conf"
    assert "/tmp" in mounts

    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    for ingress in of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                ports = services[backend["name"]]["spec"]["ports"]
                wanted = backend["port"].get("name", backend["port"].get("number"))
                offered = {p["name"] for p in ports} | {p["port"] for p in ports}
                assert wanted in offered, f"Ingress points at port {wanted} of Service {backend['name']}"
