"""The answer cache under the real gunicorn master with 4 workers and real Redis."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis

from backend.devstack.redis_server import LocalRedis
from tests.conftest import Service, StartService
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers

QUESTION = "高血压有哪些症状？"


def _start(start_service: StartService, **env: str) -> Service:
    service = start_service("backend.doctor.app:app", RATE_LIMIT_QA="100000/minute", **TEST_AUTH_ENV, **env)
    service.headers.update(service_admin_headers(service.url))
    return service


def _ask(service: Service, question: str = QUESTION) -> dict[str, Any]:
    with httpx.Client(timeout=30) as client:  # a new connection per request spreads them over workers
        response = client.post(
            f"{service.url}/api/v1/medical/qa", json={"question": question}, headers=service.headers
        )
        assert response.status_code == 200, response.text
        return response.json()


def test_200_concurrent_identical_cold_questions_run_the_pipeline_once(start_service: StartService) -> None:
    service = _start(start_service)
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: _ask(service), range(200)))

    assert service.metric("medqa_qa_answers_total") == 1
    assert service.metric("medqa_cache_computes_total", kind="qa") == 1
    assert sum(not answer["cached"] for answer in answers) == 1
    assert len({answer["answer"] for answer in answers}) == 1


def test_a_knowledge_base_write_reaches_every_worker_on_the_next_question(
    start_service: StartService,
) -> None:
    service = _start(start_service)
    question = "本院发热门诊在哪里？"
    before = [_ask(service, question) for _ in range(12)]
    assert all("门诊楼一层" not in answer["answer"] for answer in before)
    assert any(answer["cached"] for answer in before)  # the answer without the note is cached...

    document = {
        "id": "note-1",
        "title": "本院发热门诊",
        "text": "本院发热门诊位于门诊楼一层东侧，二十四小时开放。",
    }
    created = httpx.post(
        f"{service.url}/api/v1/kb/stores/hospital/documents",
        json={"documents": [document]},
        headers=service.headers,
    )
    assert created.status_code == 201

    after = [_ask(service, question) for _ in range(12)]  # ...yet no worker serves it any more
    assert all("门诊楼一层" in answer["answer"] for answer in after)
    assert not after[0]["cached"]
    assert all(answer["cached"] for answer in after[1:])


def test_with_redis_stopped_answers_keep_coming_and_l2_comes_back(
    start_service: StartService, private_redis: LocalRedis
) -> None:
    service = _start(
        start_service,
        REDIS_URL=private_redis.url,
        REDIS_RETRIES="0",
        REDIS_CONNECT_TIMEOUT="0.2",
        CACHE_L2_BREAKER_RESET_SECONDS="0.5",
    )
    _ask(service)
    private_redis.stop()
    for question in [QUESTION, "糖尿病怎么治疗？", "What causes asthma?", "感冒吃什么好？"] * 3:
        assert _ask(service, question)["answer"]
    assert service.metric("medqa_cache_l2_errors_total") > 0

    private_redis.start()
    time.sleep(1.0)  # past the breaker's reset time: the next L2 call is its trial
    client = redis.Redis.from_url(private_redis.url)
    prefix = service.env["REDIS_KEY_PREFIX"]
    deadline = time.monotonic() + 10
    while not list(client.scan_iter(match=f"{prefix}cache:qa:*")) and time.monotonic() < deadline:
        _ask(service, f"头痛怎么办？{time.monotonic()}")
        time.sleep(0.2)
    assert list(client.scan_iter(match=f"{prefix}cache:qa:*")), "L2 did not come back"
    client.close()


def test_admin_sees_statistics_over_all_workers_and_can_flush(start_service: StartService) -> None:
    service = _start(start_service)
    for _ in range(10):
        _ask(service)
    stats = httpx.get(f"{service.url}/api/v1/admin/cache/stats", headers=service.headers).json()
    qa = stats["kinds"]["qa"]
    assert qa["computes"] == 1
    assert qa["l1_hits"] + qa["l1_misses"] == 10
    assert qa["hit_ratio"] == 0.9
    assert stats["l2_state"] == "closed"

    flushed = httpx.post(
        f"{service.url}/api/v1/admin/cache/flush", json={"kind": "qa"}, headers=service.headers
    ).json()
    assert flushed["l2_removed"] == 1
    time.sleep(1.5)  # other workers clear their L1 within a second
    assert not _ask(service)["cached"]  # whichever worker answers, its L1 no longer has it
    assert service.metric("medqa_cache_computes_total", kind="qa") == 2

    bad = httpx.post(
        f"{service.url}/api/v1/admin/cache/flush", json={"kind": "everything"}, headers=service.headers
    )
    assert bad.status_code == 422
