"""Sessions under the real gunicorn master: 4 workers share each session through Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

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
