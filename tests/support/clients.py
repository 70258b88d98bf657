"""A service app in-process (TestClient), on a temporary data directory, against the real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.core.config import Settings

MakeClient = Callable[..., TestClient]


@contextmanager
def client_maker(
    create_app: Callable[[Settings], FastAPI],
    data_dir: Path,
    database_url: Callable[[], str],
    **defaults: object,
) -> Iterator[MakeClient]:
    """Yields make(**overrides) -> a started TestClient; each gets its own Redis key space. They
    share `data_dir`, so they share one database (`database_url()` makes it): replicas of one
    deployment, whose copy of the knowledge base is that database's."""
    clients: list[TestClient] = []
    shared: list[str] = []

    def database() -> str:
        if not shared:
            shared.append(database_url())
        return shared[0]

    def make(**overrides: object) -> TestClient:
        settings = Settings.model_validate(
            {
                "data_dir": data_dir,
                "redis_url": os.environ["REDIS_URL"],
                "redis_key_prefix": f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:",
                "database_url": database() if "database_url" not in overrides else None,
                **defaults,
                **overrides,
            }
        )
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.__exit__(None, None, None)
