"""Drives load with wrk (Debian package `wrk`) against loopback only, bounded in time."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    url: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _ms(value: str, output: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise RuntimeError(f"unexpected wrk latency {value!r} in:\n{output}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(
    url: str,
    seconds: int = 5,
    connections: int = 32,
    threads: int = 2,
    script: str | None = None,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """wrk against url; `script` is a wrk Lua script (e.g. one that POSTs varied bodies)."""
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError("load tests target loopback only")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is needed for benchmarks: apt-get install wrk")
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if script:
        command += ["-s", script]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1), output)  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1), output)  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return LoadResult(url, rps, p50, p99, int(non_2xx_match.group(1)) if non_2xx_match else 0)


def post_json_script(path: str, bodies: list[str], headers: dict[str, str] | None = None) -> str:
    """A wrk Lua script that POSTs the given JSON bodies in turn; returns the script's path."""
    import json

    all_headers = {"Content-Type": "application/json", **(headers or {})}
    lua_headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in all_headers.items())
    lines = ",\n".join(json.dumps(body, ensure_ascii=False) for body in bodies)
    script = f"""
bodies = {{
{lines}
}}
counter = 0
request = function()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  return wrk.format("POST", nil, {{{lua_headers}}}, body)
end
"""
    with open(path, "w", encoding="utf-8") as out:
        out.write(script)
    return path
