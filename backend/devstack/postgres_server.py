"""A real local PostgreSQL, for machines where none is configured (no DATABASE_URL).

Uses the machine's server binaries (`initdb`, `postgres`: on PATH, from `pg_config --bindir`, or under
/usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root, so when we are root the cluster
is created and run as the `postgres` user (or `nobody`), which then owns the data directory.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

_DEBIAN_BINDIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_bindir() -> Path:
    for name in ("postgres", "initdb"):
        found = shutil.which(name)
        if found:
            # Debian links the binaries into /usr/local/bin; their real directory has psql too.
            return Path(found).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "postgres").exists():
            return bindir
    for bindir in _DEBIAN_BINDIRS:
        if (bindir / "postgres").exists() and (bindir / "initdb").exists():
            return bindir
    raise RuntimeError(
        "no PostgreSQL server binaries (initdb, postgres) found: install them (Debian: apt-get install "
        "postgresql) or set DATABASE_URL to a running PostgreSQL"
    )


def postgres_answers(url: str, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at url's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout):
            return True
    except OSError:
        return False


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and there is no 'postgres' user to run PostgreSQL as")


class LocalPostgres:
    """One postgres process on a loopback port, its cluster under `directory` (trust auth, loopback only)."""

    def __init__(self, port: int, directory: Path, database: str = "medqa") -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
            raise ValueError(f"not a plain database name: {database!r}")
        self.port = port
        self.directory = directory
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self._account = _run_as()
        self._bindir = postgres_bindir()

    @property
    def user(self) -> str:
        return self._account.pw_name if self._account else pwd.getpwuid(os.geteuid()).pw_name

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _own(self, path: Path) -> None:
        if self._account:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _command(self, *argv: str) -> list[str]:
        if not self._account:
            return list(argv)
        # setpriv drops to the account without a login shell or PAM (runuser would need one).
        return [
            "setpriv",
            f"--reuid={self._account.pw_uid}",
            f"--regid={self._account.pw_gid}",
            "--clear-groups",
            "--",
            *argv,
        ]

    def _initdb(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own(self.directory)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self._own(self.data)
        result = subprocess.run(
            self._command(
                str(self._bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
            ),
            capture_output=True,
            text=True,
            cwd="/",
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data}: {result.stderr[-2000:]}")

    def start(self, timeout: float = 30.0) -> None:
        self._initdb()
        sockets = self.directory / "sockets"
        sockets.mkdir(exist_ok=True)
        self._own(sockets)
        log = self.directory / "postgres.log"
        log.touch()
        self._own(log)
        command = self._command(
            str(self._bindir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={sockets}",
            "-c",
            "max_connections=200",
            "-c",
            "fsync=on",
        )
        output = open(log, "ab")  # noqa: SIM115 (the child owns it)
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd="/")
        output.close()
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start on port {self.port}; see {log}")
            time.sleep(0.1)
        self._create_database()

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(self._bindir / "psql") if (self._bindir / "psql").exists() else "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
        )

    def _ready(self) -> bool:
        return postgres_answers(self.url) and self._psql("SELECT 1").returncode == 0

    def _create_database(self) -> None:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"  # noqa: S608 (checked name)
        exists = self._psql(query).stdout.strip()
        if exists != "1":
            result = self._psql(f'CREATE DATABASE "{self.database}"')
            if result.returncode != 0 and "already exists" not in result.stderr:
                raise RuntimeError(f"could not create database {self.database}: {result.stderr}")

    def stop(self, timeout: float = 30.0) -> None:
        """A fast shutdown (SIGINT): transactions roll back, everything committed is on disk."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
