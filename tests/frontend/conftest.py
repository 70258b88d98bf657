"""The whole stack for the UI tests, started once per session: `python -m backend.devstack.run` (both
services under gunicorn and both UI servers) on free ports, against the shared test Redis under a key
prefix of its own, with a fake LLM that streams, and one headless Chromium per test module.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright's Python package; `playwright install`
is never needed. Screenshots of the main screens go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from backend.core.config import PROJECT_ROOT
from backend.devstack.processes import free_port, wait_http
from tests.conftest import KEY_PREFIX
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USERNAME, TEST_AUTH_ENV
from tests.support.fake_llm import FakeLLM, running_fake_llm

GUIDELINES = PROJECT_ROOT / "tests" / "fixtures" / "ui_guidelines.json"

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
DOCTOR_PASSWORD = "doctor-password-123"
LANGUAGES = ["zh", "en"]


def require_browser() -> None:
    """Skip the calling test module cleanly where Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
    pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")


@dataclass
class Stack:
    doctor_ui: str
    patient_ui: str
    doctor_api: str
    patient_api: str
    llm: FakeLLM
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def admin_headers(self) -> dict[str, str]:
        tokens = httpx.post(
            f"{self.doctor_ui}/api/v1/auth/token",
            data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
            timeout=10,
        )
        assert tokens.status_code == 200, tokens.text
        return {"Authorization": f"Bearer {tokens.json()['access_token']}"}

    def ensure_doctor(self, username: str, role: str = "doctor") -> str:
        """An account (created through the admin API unless it exists); returns its password."""
        response = httpx.post(
            f"{self.doctor_ui}/api/v1/admin/users",
            json={"username": username, "password": DOCTOR_PASSWORD, "role": role},
            headers=self.admin_headers(),
            timeout=10,
        )
        assert response.status_code in (201, 409), response.text
        return DOCTOR_PASSWORD

    def submit_consultation(self, complaint: str) -> str:
        """A patient's pre-consultation through the patient API (a red flag ends it at once)."""
        api = f"{self.patient_ui}/api/v1/sessions"
        created = httpx.post(api, timeout=10).json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        reply = httpx.post(
            f"{api}/{created['session_id']}/messages", json={"text": complaint}, headers=headers, timeout=30
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["stage"] == "done", "the complaint must carry a red flag"
        submitted = httpx.post(f"{api}/{created['session_id']}/submit", headers=headers, timeout=10)
        assert submitted.status_code == 200, submitted.text
        record_id: str = submitted.json()["record_id"]
        return record_id

    def submit_dialogue(self, opening: str, answers: dict[str, str], default: str = "没有") -> str:
        """A whole pre-consultation through the patient API: each question answered by its stage."""
        api = f"{self.patient_ui}/api/v1/sessions"
        created = httpx.post(api, timeout=10).json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        text = opening
        for _ in range(15):
            reply = httpx.post(
                f"{api}/{created['session_id']}/messages", json={"text": text}, headers=headers, timeout=30
            )
            assert reply.status_code == 200, reply.text
            stage = reply.json()["stage"]
            if stage == "done":
                break
            text = answers.get(stage, default)
        submitted = httpx.post(f"{api}/{created['session_id']}/submit", headers=headers, timeout=10)
        assert submitted.status_code == 200, submitted.text
        record_id: str = submitted.json()["record_id"]
        return record_id


@pytest.fixture(scope="session")
def ui_stack(tmp_path_factory: pytest.TempPathFactory, shared_redis: str) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("ui-stack")
    ports = {
        name: free_port() for name in ("DOCTOR_PORT", "PATIENT_PORT", "DOCTOR_UI_PORT", "PATIENT_UI_PORT")
    }
    with running_fake_llm() as llm:
        env = {
            **os.environ,
            **{name: str(port) for name, port in ports.items()},
            **TEST_AUTH_ENV,
            "REDIS_URL": shared_redis,
            "REDIS_KEY_PREFIX": f"{KEY_PREFIX}ui:",
            "DATA_DIR": str(root / "data"),
            "WORKERS": "2",
            "LOG_FORMAT": "json",
            "LLM_BASE_URL": llm.url,
            "LLM_MODEL": "fake",
            "LLM_API_KEY": "test-key",
            # One browser makes many calls from one address: the limits are tested elsewhere.
            "RATE_LIMIT_DEFAULT": "100000/minute",
            "RATE_LIMIT_QA": "100000/minute",
            "RATE_LIMIT_HEALTH": "100000/minute",
            "LOGIN_MAX_FAILURES": "3",
        }
        log_path = root / "run.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "backend.devstack.run"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        stack = Stack(
            doctor_ui=f"http://127.0.0.1:{ports['DOCTOR_UI_PORT']}",
            patient_ui=f"http://127.0.0.1:{ports['PATIENT_UI_PORT']}",
            doctor_api=f"http://127.0.0.1:{ports['DOCTOR_PORT']}",
            patient_api=f"http://127.0.0.1:{ports['PATIENT_PORT']}",
            llm=llm,
            log_path=log_path,
        )
        try:
            deadline = time.monotonic() + 60
            while "ready; Ctrl-C stops everything" not in stack.log():
                assert process.poll() is None, stack.log()[-5000:]
                assert time.monotonic() < deadline, stack.log()[-5000:]
                time.sleep(0.1)
            wait_http(f"{stack.doctor_ui}/", timeout=10)
            # The hospital's own guideline beside the starter records, as an admin would import it.
            imported = httpx.post(
                f"{stack.doctor_api}/api/v1/kb/stores/guidelines/documents",
                json=json.loads(GUIDELINES.read_text(encoding="utf-8")),
                headers=stack.admin_headers(),
                timeout=60,
            )
            assert imported.status_code in (200, 201), imported.text
            yield stack
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def llm(ui_stack: Stack) -> Iterator[FakeLLM]:
    """The stack's fake LLM, back to its defaults after the test."""
    ui_stack.llm.reset()
    yield ui_stack.llm
    ui_stack.llm.reset()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module: closed before unrelated tests run with Playwright's loop gone."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


OpenPage = Callable[..., "Page"]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """open_page(url, phone=False) -> a page in a fresh context (its own storage).

    The test fails on any script error, any Content-Security-Policy violation, and any request
    that leaves the page's origin.
    """
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def open_(url: str, phone: bool = False) -> Page:
        origin = url.split("/", 3)[:3]
        prefix = "/".join(origin) + "/"
        context = browser.new_context(
            viewport={"width": 375, "height": 812} if phone else {"width": 1280, "height": 900},
            is_mobile=phone,
            has_touch=phone,
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

        def console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning") and (
                "Content Security Policy" in message.text or "missing UI string" in message.text
            ):
                problems.append(f"console: {message.text}")

        page.on("console", console)

        def request(sent: Request) -> None:
            if not sent.url.startswith((prefix, "data:", "blob:")):
                problems.append(f"request outside the origin: {sent.url}")

        page.on("request", request)
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)
