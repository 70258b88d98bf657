"""The knowledge graph and its entity automaton, built once per knowledge version and host.

Building them over the 39健康网 table and MedQuAD takes seconds; every worker doing it after each
fork made MAX_REQUESTS recycling cost most of the throughput. The first process that needs a
version builds it under a file lock and writes one pickle under DATA_DIR/cache/graph; every other
worker (and every recycled one) waits for the lock and loads the pickle in a fraction of the time.
The key covers the store versions, the identity of their records files and the code and shipped
files the build reads, so an edit to any of them builds afresh instead of serving a stale graph.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from backend.core.logging import get_logger

log = get_logger("knowledge")

FORMAT: Final = 1  # bump when what the snapshot holds changes shape
KEEP: Final = 3  # snapshots kept besides the newest: workers still on an old version may load one
_PACKAGE = Path(__file__).resolve().parent
_SOURCES: Final = (_PACKAGE, _PACKAGE.parent / "starter")

Snapshot = tuple[Any, Any, dict[str, str]]  # (KnowledgeGraph, EntityExtractor, disease id -> store)


def _code_fingerprint() -> list[tuple[str, int, int]]:
    """The graph code and the shipped files it reads, by stat (cheap enough for every start)."""
    found: list[tuple[str, int, int]] = []
    for folder in _SOURCES:
        for path in sorted(folder.iterdir()):
            if path.suffix in {".py", ".json", ".jsonl"}:
                stat = path.stat()
                found.append((path.name, stat.st_size, stat.st_mtime_ns))
    return found


def snapshot_key(versions: Mapping[str, int], records: Mapping[str, Path]) -> str:
    files: list[tuple[str, int, int, int]] = []
    for store, path in sorted(records.items()):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            files.append((store, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    material = repr((FORMAT, sorted(versions.items()), files, _code_fingerprint()))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def load_or_build(directory: Path, key: str, build: Callable[[], Snapshot]) -> Snapshot:
    """The snapshot named `key` under `directory`: loaded when some process built it, else built
    here (one builder per host at a time; the others wait and load its result)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}.pickle"
    loaded = _load(path)
    if loaded is not None:
        return loaded
    with (directory / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        loaded = _load(path)  # built by whoever held the lock before us
        if loaded is not None:
            return loaded
        snapshot = build()
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as out:
            pickle.dump(snapshot, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)  # readers see the whole file or none
        _prune(directory, path)
    return snapshot


def _load(path: Path) -> Snapshot | None:
    try:
        with path.open("rb") as source, _no_gc():
            snapshot: Snapshot = pickle.load(source)  # noqa: S301 - written by us under our own DATA_DIR
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file is rebuilt, never served
        log.warning("graph snapshot unreadable", extra={"error": type(exc).__name__})
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return snapshot


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    # Unpickling makes ~10^6 containers, none of them garbage: the collector passes they would
    # trigger cost more than half the load.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _prune(directory: Path, newest: Path) -> None:
    """Drop all but the few newest snapshots: an open file stays readable after its unlink."""
    older = sorted(
        (p for p in directory.glob("*.pickle") if p != newest), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for stale in older[KEEP:]:
        with contextlib.suppress(OSError):
            stale.unlink()
