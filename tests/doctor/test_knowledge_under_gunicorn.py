"""The knowledge layer under the real gunicorn master: one load per worker, shared on disk, ready."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import StartService
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers


def _ask(url: str, headers: dict[str, str]) -> int:
    with httpx.Client(timeout=30) as client:  # a new connection per request spreads them over workers
        return client.post(url, json={"question": "高血压有哪些症状？"}, headers=headers).status_code


def test_concurrent_first_questions_load_each_store_once_per_worker(start_service: StartService) -> None:
    # Without the answer cache, so that all 200 questions reach the stores.
    service = start_service(
        "backend.doctor.app:app", RATE_LIMIT_QA="100000/minute", CACHE_ENABLED="false", **TEST_AUTH_ENV
    )
    headers = service_admin_headers(service.url)
    ready = httpx.get(f"{service.url}/readyz").json()
    assert ready["checks"] == {"redis": "ok", "database": "ok", "knowledge": "ok"}
    loads_before = service.metric("medqa_kb_store_loads_total")  # the readiness checks loaded it

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: _ask(f"{service.url}/api/v1/medical/qa", headers), range(200)))

    assert statuses == [200] * 200
    assert service.metric("medqa_kb_store_loads_total") <= 4  # never more than once per worker
    assert service.metric("medqa_kb_store_loads_total") >= loads_before
    assert service.metric("medqa_kb_store_load_failures_total") == 0
    assert service.metric("medqa_qa_answers_total", mode="extractive") == 200


def test_a_document_added_through_one_worker_is_found_by_all(start_service: StartService) -> None:
    service = start_service("backend.doctor.app:app", RATE_LIMIT_DEFAULT="100000/minute", **TEST_AUTH_ENV)
    headers = service_admin_headers(service.url)
    text = "本院发热门诊位于门诊楼一层东侧，二十四小时开放。"
    document = {"id": "note-1", "title": "本院发热门诊", "text": text}
    created = httpx.post(
        f"{service.url}/api/v1/kb/stores/hospital/documents", json={"documents": [document]}, headers=headers
    )
    assert created.status_code == 201

    # No waiting: the write bumped the knowledge-base generation, which every worker checks per request.
    for _ in range(12):
        with httpx.Client() as client:
            hits = client.post(
                f"{service.url}/api/v1/kb/search",
                json={"query": "发热门诊在哪里", "stores": ["hospital"]},
                headers=headers,
            ).json()["hits"]
        assert hits[0]["doc_id"] == "note-1"
