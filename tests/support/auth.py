"""Signing in to the doctor service from tests: a first admin from the settings, cheap argon2 costs."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "test-admin-password"
# Settings for an in-process doctor app; the argon2 costs keep each password check under a millisecond.
TEST_AUTH: dict[str, object] = {
    "admin_username": ADMIN_USERNAME,
    "admin_password": ADMIN_PASSWORD,
    "argon2_memory_kib": 1024,
    "argon2_time_cost": 1,
}
# The same for a gunicorn-served doctor service.
TEST_AUTH_ENV = {key.upper(): str(value) for key, value in TEST_AUTH.items()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient | httpx.Client, username: str, password: str) -> dict[str, object]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, object] = response.json()
    return tokens


def admin_headers(client: TestClient | httpx.Client) -> dict[str, str]:
    return bearer(str(login(client, ADMIN_USERNAME, ADMIN_PASSWORD)["access_token"]))


def service_admin_headers(url: str) -> dict[str, str]:
    """Sign in as the first admin of a doctor service running at `url`."""
    with httpx.Client(base_url=url) as client:
        return admin_headers(client)
