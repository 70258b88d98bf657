"""The one way both services talk to Redis: a bounded, pooled async client per worker process.

The URL picks the topology, so a deployment moves from one Redis to Sentinel or Cluster by
changing REDIS_URL only:
  redis://host:6379/0, rediss://host:6380/0 (TLS), unix:///run/redis.sock?db=0,
  redis+sentinel://s1:26379,s2:26379/mymaster/0, redis+cluster://n1:7000,n2:7000
"""

from __future__ import annotations

from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backend.core.config import Settings

RedisClient: TypeAlias = "Redis | RedisCluster"

# Errors that mean "Redis is not answering"; callers degrade on these instead of failing requests.
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool, bounded the way the plain one is: a request past REDIS_MAX_CONNECTIONS waits up
    to REDIS_POOL_TIMEOUT for a free connection instead of failing at once (MaxConnectionsError), which
    under load turned every burst beyond the bound into 503s (tests/load/test_sentinel.py)."""


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for part in netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = part.partition(":")
        hosts.append((host or "127.0.0.1", int(port or default_port)))
    return hosts


def _credentials(netloc: str) -> dict[str, Any]:
    if "@" not in netloc:
        return {}
    userinfo = netloc.rsplit("@", 1)[0]
    user, _, password = userinfo.partition(":")
    creds: dict[str, Any] = {"password": unquote(password)} if password else {}
    if user:
        creds["username"] = unquote(user)
    return creds


def create_redis(settings: Settings) -> RedisClient:
    """Build the client; it connects lazily, so this is safe to call before Redis is up."""
    common: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_connect_timeout,
        "socket_timeout": settings.redis_socket_timeout,
        "health_check_interval": settings.redis_health_check_interval,
        "retry": Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.05), settings.redis_retries),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "decode_responses": False,
    }
    url = settings.redis_url
    parts = urlsplit(url)

    if parts.scheme == "redis+cluster":
        nodes = [ClusterNode(host, port) for host, port in _hosts(parts.netloc, 6379)]
        cluster_kwargs = {k: v for k, v in common.items() if k != "health_check_interval"}
        return RedisCluster(
            startup_nodes=nodes,
            max_connections=settings.redis_max_connections,
            **cluster_kwargs,
            **_credentials(parts.netloc),
        )

    if parts.scheme == "redis+sentinel":
        # path: /<master name>[/<db>]
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            raise ValueError(
                "REDIS_URL for Sentinel needs the master name: redis+sentinel://h:26379/mymaster/0"
            )
        db = int(segments[1]) if len(segments) > 1 else 0
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            _hosts(parts.netloc, 26379),
            socket_timeout=settings.redis_socket_timeout,
            socket_connect_timeout=settings.redis_connect_timeout,
        )
        client: Redis = sentinel.master_for(
            segments[0],
            connection_pool_class=BlockingSentinelConnectionPool,
            db=db,
            max_connections=settings.redis_max_connections,
            timeout=settings.redis_pool_timeout,
            **common,
            **_credentials(parts.netloc),
        )
        return client

    # redis://, rediss:// and unix:// share one bounded pool that waits for a free connection
    # (up to REDIS_POOL_TIMEOUT) rather than failing at once or growing past the bound.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout,
        **common,
    )
    return Redis(connection_pool=pool)


def pool_usage(client: RedisClient) -> tuple[int, int]:
    """(connections in use, connections idle) for the metrics; zeros where the pool hides them."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        return 0, 0
    in_use = len(getattr(pool, "_in_use_connections", ()))
    idle = len(getattr(pool, "_available_connections", ()))
    return in_use, idle
