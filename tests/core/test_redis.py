"""One factory reaches Redis however it is deployed, through a bounded pool that waits."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_sync
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection

from backend.core.config import Settings
from backend.core.redis import create_redis, pool_usage
from backend.devstack.processes import free_port
from backend.devstack.redis_server import LocalRedis, redis_server_binary
from tests.conftest import KEY_PREFIX


def _settings(url: str, **overrides: object) -> Settings:
    return Settings.model_validate({"redis_url": url, **overrides})


def _spawn(args: list[str], directory: Path) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([redis_server_binary(), *args], cwd=directory, stdout=subprocess.DEVNULL)


def _wait_ping(client: redis_sync.Redis, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.ping():
                return
        except redis_sync.RedisError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.fixture
def spawned(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(10)


def test_pool_is_bounded_and_waits_for_a_free_connection(shared_redis: str) -> None:
    async def scenario() -> tuple[float, int]:
        client = create_redis(_settings(shared_redis, redis_max_connections=2, redis_pool_timeout=5))
        assert isinstance(client, Redis)
        peak = 0

        async def blocking_pop() -> None:
            nonlocal peak
            task = asyncio.ensure_future(client.blpop([f"{KEY_PREFIX}never"], timeout=0.3))
            await asyncio.sleep(0.05)
            peak = max(peak, pool_usage(client)[0])
            await task

        started = time.monotonic()
        await asyncio.gather(*(blocking_pop() for _ in range(6)))
        elapsed = time.monotonic() - started
        await client.aclose()
        return elapsed, peak

    elapsed, peak = asyncio.run(scenario())
    assert peak == 2  # never more than REDIS_MAX_CONNECTIONS
    assert elapsed >= 0.85  # 6 waits of 0.3 s through 2 connections: three rounds, none refused


def test_pool_wait_is_bounded_by_the_pool_timeout(shared_redis: str) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    async def scenario() -> None:
        client = create_redis(_settings(shared_redis, redis_max_connections=1, redis_pool_timeout=0.2))
        hold = asyncio.ensure_future(client.blpop([f"{KEY_PREFIX}never"], timeout=1))
        await asyncio.sleep(0.05)
        with pytest.raises(RedisConnectionError):
            await client.ping()
        await hold
        await client.aclose()

    asyncio.run(scenario())


def test_tls_url_uses_tls_connections() -> None:
    client = create_redis(_settings("rediss://cache.internal:6380/0"))
    assert isinstance(client, Redis)
    assert client.connection_pool.connection_class is SSLConnection


def test_unix_socket(tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    socket_path = tmp_path / "redis.sock"
    spawned.append(_spawn(["--port", "0", "--unixsocket", str(socket_path), "--save", ""], tmp_path))
    _wait_ping(redis_sync.Redis(unix_socket_path=str(socket_path)))

    async def scenario() -> bytes | str | None:
        client = create_redis(_settings(f"unix://{socket_path}?db=0"))
        assert isinstance(client, Redis)
        assert client.connection_pool.connection_class is UnixDomainSocketConnection
        await client.set("k", "via-unix")
        value = await client.get("k")
        await client.aclose()
        return value

    assert asyncio.run(scenario()) == b"via-unix"


def test_sentinel_finds_the_master(
    tmp_path: Path, private_redis: LocalRedis, spawned: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    conf = tmp_path / "sentinel" / "sentinel.conf"
    conf.parent.mkdir()
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {private_redis.port} 1\n"
    )
    spawned.append(_spawn([str(conf), "--sentinel"], conf.parent))
    _wait_ping(redis_sync.Redis(host="127.0.0.1", port=port))

    async def scenario() -> bytes | str | None:
        client = create_redis(_settings(f"redis+sentinel://127.0.0.1:{port}/mymaster/0"))
        await client.set("k", "via-sentinel")
        value = await client.get("k")
        await client.aclose()
        return value

    assert asyncio.run(scenario()) == b"via-sentinel"
    assert redis_sync.Redis.from_url(private_redis.url).get("k") == b"via-sentinel"


def test_sentinel_pool_is_bounded_and_waits_for_a_free_connection(
    tmp_path: Path, private_redis: LocalRedis, spawned: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    conf = tmp_path / "sentinel" / "sentinel.conf"
    conf.parent.mkdir()
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {private_redis.port} 1\n"
    )
    spawned.append(_spawn([str(conf), "--sentinel"], conf.parent))
    _wait_ping(redis_sync.Redis(host="127.0.0.1", port=port))
    url = f"redis+sentinel://127.0.0.1:{port}/mymaster/0"

    async def scenario() -> tuple[float, int]:
        client = create_redis(_settings(url, redis_max_connections=2, redis_pool_timeout=5))
        peak = 0

        async def blocking_pop() -> None:
            nonlocal peak
            task = asyncio.ensure_future(client.blpop([f"{KEY_PREFIX}never"], timeout=0.3))
            await asyncio.sleep(0.05)
            peak = max(peak, pool_usage(client)[0])
            await task

        started = time.monotonic()
        await asyncio.gather(*(blocking_pop() for _ in range(6)))
        elapsed = time.monotonic() - started
        await client.aclose()
        return elapsed, peak

    elapsed, peak = asyncio.run(scenario())
    assert peak == 2  # never more than REDIS_MAX_CONNECTIONS
    assert elapsed >= 0.85  # three rounds through 2 connections: the others waited, none was refused


def test_cluster(tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    spawned.append(
        _spawn(
            [
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--save",
                "",
                "--cluster-announce-ip",
                "127.0.0.1",
                # The bus port defaults to port + 10000, past 65535 for a high free port.
                "--cluster-port",
                str(free_port()),
            ],
            tmp_path / "cluster",
        )
    )
    node = redis_sync.Redis(host="127.0.0.1", port=port)
    _wait_ping(node)
    node.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    deadline = time.monotonic() + 10
    while b"cluster_state:ok" not in node.execute_command("CLUSTER", "INFO"):
        assert time.monotonic() < deadline, "single-node cluster never became ok"
        time.sleep(0.1)

    async def scenario() -> bytes | str | None:
        client = create_redis(_settings(f"redis+cluster://127.0.0.1:{port}"))
        assert isinstance(client, RedisCluster)
        await client.set("k", "via-cluster")
        value = await client.get("k")
        await client.aclose()
        return value

    assert asyncio.run(scenario()) == b"via-cluster"


def test_client_is_lazy_so_it_can_be_built_before_redis_is_up() -> None:
    client = create_redis(_settings(f"redis://127.0.0.1:{free_port()}/0"))
    assert pool_usage(client) == (0, 0)
