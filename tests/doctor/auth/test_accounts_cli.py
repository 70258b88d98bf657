"""`python -m backend.cli users ...` run as an operator runs it, against the real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from backend.core.config import PROJECT_ROOT
from backend.devstack.processes import free_port
from tests.support.auth import login
from tests.support.clients import MakeClient


def users(prefix: str, database_url: str, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDIS_KEY_PREFIX": prefix,
        "DATABASE_URL": database_url,
        "DATABASE_TIMEOUT": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "users", *args],
        input=f"{password}\n",
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_account_made_on_the_command_line_signs_in_to_the_service(
    make_client: MakeClient, database_url: str
) -> None:
    prefix = f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:"
    client = make_client(signed_in=False, redis_key_prefix=prefix, database_url=database_url)
    added = users(prefix, database_url, "add", "Dr-Ma", "--role", "admin", password="cli-password-1")
    assert added.returncode == 0, added.stderr
    assert "cli-password-1" not in added.stdout + added.stderr
    assert login(client, "dr-ma", "cli-password-1")["access_token"]

    assert users(prefix, database_url, "set-role", "dr-ma", "doctor").returncode == 0
    listed = users(prefix, database_url, "list")
    assert "dr-ma\tdoctor" in listed.stdout.splitlines()
    assert users(prefix, database_url, "set-password", "dr-ma", password="cli-password-2").returncode == 0
    assert login(client, "dr-ma", "cli-password-2")["access_token"]
    assert users(prefix, database_url, "delete", "dr-ma").returncode == 0
    assert users(prefix, database_url, "delete", "dr-ma").returncode == 1


def test_bad_input_exits_2_and_database_down_exits_1(database_url: str) -> None:
    prefix = f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:"
    assert users(prefix, database_url, "add", "dr-x", password="short").returncode == 2
    assert users(prefix, database_url, "add", "no spaces allowed", password="long-enough-1").returncode == 2
    down = users(prefix, f"postgresql://postgres@127.0.0.1:{free_port()}/medqa", "list")
    assert down.returncode == 1
    assert "does not answer" in down.stderr
