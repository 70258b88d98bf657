"""A replicated Redis for the load suite: a primary, one replica and three Sentinels on free loopback
ports, with a fast failover (the primary is declared down after DOWN_AFTER_MS)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_sync

from backend.devstack.processes import free_port
from backend.devstack.redis_server import redis_server_binary

MASTER = "mymaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000


@dataclass
class ReplicatedRedis:
    primary_port: int
    replica_port: int
    sentinel_ports: list[int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The REDIS_URL the services take: every Sentinel, the master's name, db 0."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER}/0"

    def master_port(self) -> int | None:
        """The primary's port as the first Sentinel that answers sees it."""
        for port in self.sentinel_ports:
            client = redis_sync.Redis(port=port, socket_timeout=0.5)
            try:
                address = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
                return int(address[1])
            except redis_sync.RedisError:
                continue
            finally:
                client.close()
        return None

    def replica(self) -> redis_sync.Redis:
        return redis_sync.Redis(port=self.replica_port, socket_timeout=2)


def _start(name: str, args: list[str], directory: Path) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"{name}.log"
    return subprocess.Popen(
        [redis_server_binary(), *args, "--logfile", str(log)],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def _until(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(check) or not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def _answers(port: int, *command: str) -> object:
    client = redis_sync.Redis(port=port, socket_timeout=0.5)
    try:
        return client.execute_command(*command)
    except redis_sync.RedisError:
        return None
    finally:
        client.close()


@contextmanager
def replicated_redis(directory: Path) -> Iterator[ReplicatedRedis]:
    """Primary + replica + 3 Sentinels (quorum 2), all stopped on the way out. Yields once they are
    started: the Sentinels name the primary at once; `wait_ready` waits for the rest."""
    servers = ReplicatedRedis(free_port(), free_port(), [free_port() for _ in range(3)])
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"]
    primary = servers.primary_port
    try:
        servers.processes["primary"] = _start(
            "primary", ["--port", str(primary), *common], directory / "primary"
        )
        replica = ["--port", str(servers.replica_port), "--replicaof", "127.0.0.1", str(primary), *common]
        servers.processes["replica"] = _start("replica", replica, directory / "replica")
        for index, port in enumerate(servers.sentinel_ports):
            home = directory / f"sentinel-{index}"
            home.mkdir(parents=True)
            conf = home / "sentinel.conf"  # Sentinel rewrites it: one file each
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {home}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            servers.processes[f"sentinel-{index}"] = _start("sentinel", [str(conf), "--sentinel"], home)
        _until(lambda: servers.master_port() == primary, "no Sentinel answers")
        yield servers
    finally:
        for process in servers.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in servers.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(servers: ReplicatedRedis) -> None:
    """Until the replica is in sync and every Sentinel knows it and the two others (hello messages,
    every 2 s): only then can they agree the primary is down and promote the replica."""

    def synced() -> bool:
        info = _answers(servers.replica_port, "INFO", "replication")  # parsed: a dict
        return isinstance(info, dict) and info.get("master_link_status") == "up"

    def all_known() -> bool:
        for port in servers.sentinel_ports:
            info = _answers(port, "SENTINEL", "master", MASTER)  # parsed: a dict
            if not isinstance(info, dict):
                return False
            if info.get(b"num-slaves") != b"1" or info.get(b"num-other-sentinels") != b"2":
                return False
        return True

    _until(synced, "the replica did not sync with the primary")
    _until(all_known, "the Sentinels did not find the replica and each other", timeout=30)
