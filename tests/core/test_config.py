"""A bad setting stops the process at start with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend.core.config import PROJECT_ROOT, Settings


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
    result = subprocess.run(
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
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("configuration error")]
    assert len(error_lines) == 1
    assert error_lines[0].startswith(f"configuration error: {name}:")


def test_defaults_match_the_documented_values() -> None:
    settings = Settings(_env_file=None)
    assert (settings.workers, settings.max_connections, settings.redis_max_connections) == (4, 1000, 20)
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
