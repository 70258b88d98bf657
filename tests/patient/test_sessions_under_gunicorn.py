"""Sessions under the real gunicorn master: 4 workers share each session through Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import redis as redis_sync

from backend.devstack.redis_server import LocalRedis
from tests.conftest import StartService


def test_messages_sent_at_once_to_different_workers_all_land_in_order_of_arrival(
    start_service: StartService,
) -> None:
    service = start_service("backend.patient.app:app", RATE_LIMIT_DEFAULT="100000/minute")
    created = httpx.post(f"{service.url}/api/v1/sessions").json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    url = f"{service.url}/api/v1/sessions/{created['session_id']}"
    texts = [f"补充{n}：头痛" for n in range(12)]

    def send(text: str) -> int:
        with httpx.Client(timeout=30) as client:  # a new connection each: spread over the workers
            return client.post(f"{url}/messages", json={"text": text}, headers=auth).status_code

    with ThreadPoolExecutor(12) as pool:
        assert list(pool.map(send, texts)) == [200] * 12

    session = httpx.get(url, headers=auth).json()
    said = [m["text"] for m in session["history"] if m["role"] == "patient"]
    assert sorted(said) == sorted(texts)  # none lost, none doubled
    replies = [m for m in session["history"] if m["role"] == "assistant"]
    assert len(replies) == 13  # the greeting and one reply per message, each after its message
    assert len(service.worker_pids()) == 4


def test_a_session_in_progress_when_redis_is_flushed_ends_with_a_clear_message(
    start_service: StartService, private_redis: LocalRedis
) -> None:
    service = start_service("backend.patient.app:app", WORKERS="2", REDIS_URL=private_redis.url)
    created = httpx.post(f"{service.url}/api/v1/sessions").json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    url = f"{service.url}/api/v1/sessions/{created['session_id']}"
    assert httpx.post(f"{url}/messages", json={"text": "我头痛三天了"}, headers=auth).status_code == 200

    redis_sync.Redis.from_url(private_redis.url).flushall()

    ended = httpx.post(f"{url}/messages", json={"text": "有点恶心"}, headers=auth)
    assert ended.status_code == 404
    assert ended.json()["error"]["message"] == "Session not found, or it has expired. Start a new one."
    assert httpx.get(url, headers=auth).status_code == 404  # not recreated half-empty by the late message
    fresh = httpx.post(f"{service.url}/api/v1/sessions")
    assert fresh.status_code == 201, fresh.text
