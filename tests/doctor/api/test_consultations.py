"""The doctors' inbox routes: what a bad request gets (the happy path runs in tests/patient/api)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_an_empty_inbox_is_an_empty_page(client: TestClient) -> None:
    assert client.get("/api/v1/consultations").json() == {"items": [], "total": 0, "page": 1, "page_size": 20}


def test_unknown_records_are_404_and_bad_filters_422(client: TestClient) -> None:
    assert client.get("/api/v1/consultations/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert client.get("/api/v1/consultations/not-an-id").status_code == 404
    missing = client.post("/api/v1/consultations/AAAAAAAAAAAAAAAAAAAAAA/status", json={"status": "seen"})
    assert missing.status_code == 404
    assert client.get("/api/v1/consultations", params={"status": "archived"}).status_code == 422
    assert client.get("/api/v1/consultations", params={"page_size": 1000}).status_code == 422
    bad = client.post("/api/v1/consultations/AAAAAAAAAAAAAAAAAAAAAA/status", json={"status": "deleted"})
    assert bad.status_code == 422
