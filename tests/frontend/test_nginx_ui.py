"""deploy/nginx/nginx.conf serving the real frontend/: each UI's page, every file it links and every
module it imports (its own under /, the shared ones under /common/) arrive with the UI's security
headers and the right types, byte for byte as in the repository.

Runs the real nginx (skipped where it is not installed; CI installs it) with the config as rendered by
the deployment tests: loopback ports, the test's /tmp paths, the UI root moved to this checkout.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest

from backend.core.config import PROJECT_ROOT
from backend.devstack.processes import free_port
from backend.devstack.ui_server import UI_HEADERS
from tests.conftest import require_tool
from tests.deploy.conftest import wait_for_port
from tests.deploy.test_nginx_conf import DOCTOR_UI_PORT, PATIENT_UI_PORT, global_args, render, request
from tests.frontend.test_static import import_specifiers

FRONTEND = PROJECT_ROOT / "frontend"
NGINX_CONF = PROJECT_ROOT / "deploy" / "nginx" / "nginx.conf"
# Cache-Control comes from `expires -1` (no-cache) in nginx.
EXPECTED = {name.decode(): value.decode() for name, value in UI_HEADERS if name != b"cache-control"}


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """nginx running deploy/nginx/nginx.conf over this checkout's frontend/; {"doctor": port, ...}."""
    binary = require_tool("nginx")
    prefix = tmp_path_factory.mktemp("nginx-ui")
    (prefix / "tmp").mkdir()
    (prefix / "logs").mkdir()
    ports = {DOCTOR_UI_PORT: free_port(), PATIENT_UI_PORT: free_port()}
    conf = prefix / "nginx.conf"
    conf.write_text(
        render(NGINX_CONF.read_text(encoding="utf-8"), prefix=prefix, frontend=FRONTEND, listen=ports),
        encoding="utf-8",
    )
    log = (prefix / "nginx.log").open("wb")
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf), *global_args("daemon off;")],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for port in ports.values():
            wait_for_port(port, timeout=10, process=process)
        yield {"doctor": ports[DOCTOR_UI_PORT], "patient": ports[PATIENT_UI_PORT]}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def repository_file(ui: str, path: str) -> Path:
    if path.startswith("/common/"):
        return FRONTEND / "common" / path.removeprefix("/common/")
    return FRONTEND / ui / (path.lstrip("/") or "index.html")


def assert_ui_headers(path: str, headers: dict[str, str], *, found: bool = True) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, f"{path}: {name}"
    if found:  # `expires` applies to answers with a file only
        assert headers.get("cache-control") == "no-cache", path


@pytest.mark.parametrize("ui", ["doctor", "patient"])
def test_nginx_serves_each_ui_and_the_shared_modules_with_the_ui_headers(
    ui: str, nginx: dict[str, int]
) -> None:
    port = nginx[ui]
    status, headers, body = request(port, "GET", "/")
    assert status == 200
    assert_ui_headers("/", headers)
    assert body == (FRONTEND / ui / "index.html").read_bytes()

    queue = [urljoin("/", url) for url in re.findall(r'(?:src|href)\s*=\s*"([^"#][^"]*)"', body.decode())]
    fetched: set[str] = set()
    while queue:
        path = queue.pop()
        if path in fetched:
            continue
        fetched.add(path)
        status, headers, body = request(port, "GET", path)
        assert status == 200, path
        assert_ui_headers(path, headers)
        assert body == repository_file(ui, path).read_bytes(), path
        if path.endswith(".js"):
            assert "javascript" in headers["content-type"], path  # module scripts, under nosniff
            queue += [urljoin(path, specifier) for specifier in import_specifiers(body.decode())]
        elif path.endswith(".css"):
            assert headers["content-type"].startswith("text/css"), path
    assert {"/common/api.js", "/common/base.css", "/js/main.js"} <= fetched

    # A missing shared file is a 404 (with the same security headers), not the UI's page.
    status, headers, body = request(port, "GET", "/common/missing.js")
    assert status == 404
    assert_ui_headers("/common/missing.js", headers, found=False)
    assert b"<!doctype html>\n<html" not in body
    # The UI's client-side fallback still works beside it.
    status, _, body = request(port, "GET", "/some/route")
    assert (status, body) == (200, (FRONTEND / ui / "index.html").read_bytes())
