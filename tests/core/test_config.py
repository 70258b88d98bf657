"""A bad setting stops the process at start with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from backend.core.config import DEV_SECRET_KEY, PROJECT_ROOT, Settings


def _check_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """gunicorn's start-up configuration check of the doctor service, with this environment."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "backend.doctor.app:app",
            "--check-config",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKERS", "many"),
        ("REDIS_URL", "http://not-redis"),
        ("RATE_LIMIT_QA", "ten per minute"),
        ("DOCTOR_PORT", "70000"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_bad_value_stops_gunicorn_with_one_line_naming_the_setting(name: str, value: str) -> None:
    result = _check_config({**os.environ, name: value})
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("configuration error")]
    assert len(error_lines) == 1
    assert error_lines[0].startswith(f"configuration error: {name}:")


def test_defaults_match_the_documented_values() -> None:
    settings = Settings(_env_file=None)
    assert (settings.workers, settings.max_connections, settings.redis_max_connections) == (4, 4096, 20)
    assert (settings.redis_connect_timeout, settings.redis_socket_timeout) == (5.0, 5.0)
    assert (settings.cache_max_size, settings.vector_store_cache_size) == (5000, 50)
    assert settings.rate_limit_qa == "10/minute"


def test_env_example_documents_every_setting() -> None:
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (PROJECT_ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    expected = {name.upper() for name in Settings.model_fields}
    assert expected <= documented, f"missing from .env.example: {sorted(expected - documented)}"


PRODUCTION_SECRETS = {
    "app_env": "production",
    "secret_key": "k" * 48,
    "admin_username": "admin",
    "admin_password": "a-strong-admin-password",
}


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"secret_key": ""}, "SECRET_KEY"),
        ({"secret_key": DEV_SECRET_KEY}, "SECRET_KEY"),
        ({"secret_key": "short-secret"}, "SECRET_KEY"),
        ({"admin_password": "changethis"}, "ADMIN_PASSWORD"),
        ({"admin_password": ""}, "ADMIN_PASSWORD"),
        ({"metrics_token": "abc"}, "METRICS_TOKEN"),
        ({"llm_base_url": "http://llm.internal/v1", "llm_api_key": ""}, "LLM_API_KEY"),
    ],
)
def test_production_refuses_default_or_empty_secrets(override: dict[str, str], named: str) -> None:
    assert Settings.model_validate(PRODUCTION_SECRETS).app_env == "production"  # the control case
    with pytest.raises(ValidationError, match=named):
        Settings.model_validate({**PRODUCTION_SECRETS, **override})


def test_production_start_stops_with_one_line_about_the_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ADMIN_PASSWORD")}
    result = _check_config({**env, "APP_ENV": "production"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
