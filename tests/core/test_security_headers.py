"""Every API response says what it is and refuses to be framed; /metrics is for the scrapers only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.core.app_factory import create_app
from backend.core.config import Settings


def _client(**overrides: object) -> TestClient:
    return TestClient(create_app("test", title="test", settings=Settings.model_validate(overrides)))


def test_every_response_carries_the_security_headers_errors_included() -> None:
    with _client() as client:
        for response in [
            client.get("/healthz"),
            client.get("/no/such/route"),
            client.post("/api/v1/ping"),
            client.post("/api/v1/ping", content=b"x" * 2_000_000),  # refused before the route: 413
        ]:
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert "default-src 'none'" in response.headers["content-security-policy"]


def test_metrics_answer_only_the_allowlist_or_the_token() -> None:
    # TestClient's peer is "testclient", outside any allowlist.
    with _client(metrics_token="scrape-secret") as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert scraped.status_code == 200
        assert "medqa_http_requests_total" in scraped.text
    with _client() as client:  # no token configured: a bearer header opens nothing
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_the_allowlist_is_configurable() -> None:
    settings = Settings.model_validate({"metrics_allow_ips": "10.1.0.0/16, 127.0.0.1/32"})
    assert [str(network) for network in settings.metrics_allow_ips] == ["10.1.0.0/16", "127.0.0.1/32"]


def test_api_docs_are_off_in_production_unless_asked_for() -> None:
    with _client(app_env="production", secret_key="s" * 40) as client:
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404
    with _client(app_env="production", secret_key="s" * 40, api_docs=True) as client:
        assert client.get("/openapi.json").status_code == 200
    with _client() as client:
        assert client.get("/docs").status_code == 200
        assert "cdn.jsdelivr.net" in client.get("/docs").headers["content-security-policy"]
