"""deploy/Dockerfile, deploy/nginx/Dockerfile, .dockerignore, and the two scripts the API image
runs: deploy/entrypoint.sh (picks the service, execs gunicorn) and deploy/healthcheck.py.

No Docker engine here: the Dockerfiles are checked as text; the scripts are really run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backend.devstack.processes import free_port as get_free_port

from .conftest import DEPLOY_DIR, PROJECT_ROOT, StubBackend

API_DOCKERFILE = DEPLOY_DIR / "Dockerfile"
WEB_DOCKERFILE = DEPLOY_DIR / "nginx" / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
ENTRYPOINT = DEPLOY_DIR / "entrypoint.sh"
HEALTHCHECK = DEPLOY_DIR / "healthcheck.py"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages with their instructions; line continuations joined, comments dropped, global
    ARG defaults substituted into FROM."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert match, f"unparsable FROM: {args}"
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args[m[1] or m[2]], match[1])
            stages.append(Stage(base, match[2]))
        elif not stages:
            if keyword == "ARG" and "=" in args:
                key, value = args.split("=", 1)
                global_args[key] = value
        else:
            stages[-1].instructions.append((keyword, args))
    return stages


def copy_sources(stage: Stage) -> list[str]:
    sources: list[str] = []
    for args in stage.all("COPY"):
        if "--from=" in args:
            continue
        parts = [part for part in args.split() if not part.startswith("--")]
        sources.extend(parts[:-1])
    return sources


def dockerignore_patterns() -> list[tuple[bool, str]]:
    patterns: list[tuple[bool, str]] = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        patterns.append((negated, line.lstrip("!").strip("/")))
    return patterns


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus **) as a regular expression."""
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            regex, i = regex + pattern[i : end + 1], end + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


def ignored(relative: str) -> bool:
    """Docker's rule: the last matching pattern wins, and a pattern matching a parent directory
    excludes everything below it."""
    result = False
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for negated, pattern in dockerignore_patterns():
        regex = pattern_regex(pattern)
        if any(regex.fullmatch(candidate) for candidate in candidates):
            result = not negated
    return result


# --- the API image ------------------------------------------------------------------------------


def test_api_dockerfile_is_multi_stage_from_locked_requirements() -> None:
    stages = parse_dockerfile(API_DOCKERFILE)
    assert len(stages) >= 2
    builder, final = stages[0], stages[-1]
    assert builder.name, "the builder stage must be named for COPY --from"
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", final.base), final.base

    runs = " && ".join(builder.all("RUN"))
    assert "requirements.lock" in copy_sources(builder)
    assert re.search(r"pip install (?:[^&]* )?-r requirements\.lock", runs)
    assert re.search(r"pip install --no-deps \.", runs)
    assert "python -m venv /opt/venv" in runs

    assert any(f"--from={builder.name} /opt/venv /opt/venv" in args for args in final.all("COPY"))
    for source in ("gunicorn.conf.py", "backend"):
        assert source in copy_sources(final), f"the final stage does not copy {source}"


def test_api_image_runs_unprivileged_with_healthcheck_and_exec_form_command() -> None:
    final = parse_dockerfile(API_DOCKERFILE)[-1]
    [user] = final.all("USER")
    assert user.split(":")[0] not in ("root", "0")
    env = " ".join(final.all("ENV"))
    assert "HOST=0.0.0.0" in env
    assert re.search(r"MEDQA_SERVICE=\$\{SERVICE\}", env)
    assert any(args.startswith("SERVICE=") for args in final.all("ARG"))

    [healthcheck] = final.all("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "CMD" in healthcheck
    [entrypoint] = final.all("ENTRYPOINT")
    [cmd] = final.all("CMD")
    assert json.loads(entrypoint) == ["/app/deploy/entrypoint.sh"]
    assert json.loads(cmd) == ["gunicorn", "-c", "gunicorn.conf.py"]


def test_web_dockerfile_serves_the_uis_as_non_root() -> None:
    [stage] = parse_dockerfile(WEB_DOCKERFILE)
    assert stage.base.startswith("nginxinc/nginx-unprivileged:")
    copies = stage.all("COPY")
    assert "deploy/nginx/nginx.conf /etc/nginx/nginx.conf" in copies
    assert "frontend/doctor/ /usr/share/medqa/frontend/doctor/" in copies
    assert "frontend/patient/ /usr/share/medqa/frontend/patient/" in copies
    assert "frontend/common/ /usr/share/medqa/frontend/common/" in copies
    assert stage.all("USER")[-1] not in ("root", "0")
    assert stage.all("HEALTHCHECK")


def test_dockerignore_excludes_local_state_but_not_what_the_images_copy() -> None:
    for path in (
        ".venv",
        "data",
        "data/run/metrics",
        ".git",
        "backend/core/__pycache__",
        "x.pyc",
        "tests",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".coverage",
        ".env",
        "frontend/doctor/node_modules",
    ):
        assert ignored(path), f".dockerignore lets {path} into the build context"
    sources = copy_sources(parse_dockerfile(API_DOCKERFILE)[0])
    sources += copy_sources(parse_dockerfile(API_DOCKERFILE)[-1])
    sources += copy_sources(parse_dockerfile(WEB_DOCKERFILE)[0])
    for source in sources:
        assert not ignored(source), f".dockerignore excludes {source}, which a Dockerfile copies"


def test_copied_sources_exist() -> None:
    stages = parse_dockerfile(API_DOCKERFILE)
    sources = {s for stage in stages for s in copy_sources(stage)}
    sources |= set(copy_sources(parse_dockerfile(WEB_DOCKERFILE)[0]))
    missing = sorted(s for s in sources if not (PROJECT_ROOT / s).exists())
    if missing == ["requirements.lock"]:
        pytest.skip("requirements.lock is not in the project yet: the API image cannot be built without it")
    assert not missing, f"the Dockerfiles copy files that do not exist: {missing}"


# --- the entrypoint -----------------------------------------------------------------------------------


@pytest.fixture
def fake_gunicorn(tmp_path: Path) -> Path:
    """A 'gunicorn' that prints its arguments, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gunicorn"
    script.write_text('#!/bin/sh\necho "gunicorn $*"\n', encoding="utf-8")
    script.chmod(0o755)
    return bin_dir


def run_entrypoint(bin_dir: Path, service: str | None, *args: str) -> tuple[int, str, str]:
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    if service is not None:
        env["MEDQA_SERVICE"] = service
    result = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=10, check=False
    )
    return result.returncode, result.stdout.strip(), result.stderr.strip()


def test_entrypoint_is_executable() -> None:
    assert os.access(ENTRYPOINT, os.X_OK)
    assert ENTRYPOINT.read_text(encoding="utf-8").startswith("#!/bin/sh\n")


@pytest.mark.parametrize(
    ("service", "app"),
    [
        (None, "backend.doctor.app:app"),
        ("doctor", "backend.doctor.app:app"),
        ("patient", "backend.patient.app:app"),
    ],
)
def test_entrypoint_starts_the_chosen_service(fake_gunicorn: Path, service: str | None, app: str) -> None:
    code, out, _ = run_entrypoint(fake_gunicorn, service, "gunicorn", "-c", "gunicorn.conf.py")
    assert (code, out) == (0, f"gunicorn -c gunicorn.conf.py {app}")
    code, out, _ = run_entrypoint(fake_gunicorn, service)  # no command: the same default
    assert (code, out) == (0, f"gunicorn -c gunicorn.conf.py {app}")


def test_entrypoint_refuses_an_unknown_service_and_runs_other_commands(fake_gunicorn: Path) -> None:
    code, out, err = run_entrypoint(fake_gunicorn, "admin", "gunicorn", "-c", "gunicorn.conf.py")
    assert code == 64
    assert out == ""
    assert "MEDQA_SERVICE" in err
    code, out, _ = run_entrypoint(fake_gunicorn, "patient", "echo", "hello")
    assert (code, out) == (0, "hello")


# --- the health probe --------------------------------------------------------------------------------


def run_healthcheck(path: str, env: dict[str, str]) -> int:
    completed = subprocess.run(
        [sys.executable, str(HEALTHCHECK), path],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        timeout=15,
        check=False,
    )
    return completed.returncode


def test_healthcheck_probes_the_service_port(stub_backend: Callable[..., StubBackend]) -> None:
    stub = stub_backend("api", statuses={"/readyz": 503})
    port, closed = str(stub.port), str(get_free_port())
    doctor = {"MEDQA_SERVICE": "doctor", "DOCTOR_PORT": port}
    patient = {"MEDQA_SERVICE": "patient", "PATIENT_PORT": port}
    assert run_healthcheck("/healthz", {**doctor, "HOST": "0.0.0.0"}) == 0
    assert run_healthcheck("/readyz", doctor) == 1
    assert run_healthcheck("/healthz", patient) == 0
    assert run_healthcheck("/healthz", {**patient, "PATIENT_PORT": closed}) == 1
    assert [r.path for r in stub.seen()] == ["/healthz", "/readyz", "/healthz"]
