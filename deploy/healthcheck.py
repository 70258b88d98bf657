"""Container health probe: GET a path of this container's service, exit 0 on 200, 1 otherwise.

    python /app/deploy/healthcheck.py [/healthz|/readyz]

Standard library only (the slim image has no curl). The port follows MEDQA_SERVICE like the
entrypoint: DOCTOR_PORT (8000) for doctor, PATIENT_PORT (8001) for patient.
"""

from __future__ import annotations

import http.client
import os
import sys

TIMEOUT_SECONDS = 3.0


def target() -> tuple[str, int]:
    service = os.environ.get("MEDQA_SERVICE", "doctor")
    if service == "patient":
        port = int(os.environ.get("PATIENT_PORT", "8001"))
    else:
        port = int(os.environ.get("DOCTOR_PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::", "[::]"):  # a wildcard bind answers on loopback
        host = "127.0.0.1"
    return host, port


def probe(path: str) -> int:
    host, port = target()
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", path, headers={"User-Agent": "medqa-healthcheck"})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"healthcheck: {host}:{port}{path}: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"healthcheck: {host}:{port}{path}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(probe(sys.argv[1] if len(sys.argv) > 1 else "/healthz"))
