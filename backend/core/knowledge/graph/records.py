"""Disease records kept on disk, read on demand: the graph's view of records without their weight.

A graph over an imported table of ~10k diseases would otherwise hold every record (descriptions,
treatments...) as Python objects in every worker: ~50 MB each. Here a worker holds only each record's
byte range in its store's records.jsonl and reads the few records a question needs with `pread`; the
file itself sits once in the page cache for all workers. Recently used records are kept parsed.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from backend.core.knowledge.graph.diseases import DiseaseRecord

CACHE_SIZE = 512


class RecordFiles:
    """A read-only mapping disease id -> DiseaseRecord over one or more records.jsonl files."""

    def __init__(self) -> None:
        self._where: dict[str, tuple[int, int, int]] = {}  # id -> (fd, start, length)
        self._fds: list[int] = []
        self._paths: list[str] = []  # the file of each fd, to reopen them in a graph snapshot
        self._cache: OrderedDict[str, DiseaseRecord] = OrderedDict()

    # A graph snapshot (see snapshot.py) carries the offsets and the paths; the loading worker
    # reopens the files. The versioned records files are never rewritten in place, so the offsets
    # still hold for the version the snapshot is keyed by.
    def __getstate__(self) -> dict[str, Any]:
        index = {fd: position for position, fd in enumerate(self._fds)}
        where = {key: (index[fd], start, length) for key, (fd, start, length) in self._where.items()}
        return {"paths": list(self._paths), "where": where}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._paths = list(state["paths"])
        self._fds = [os.open(path, os.O_RDONLY) for path in self._paths]
        fds = self._fds
        self._where = {
            key: (fds[position], start, length) for key, (position, start, length) in state["where"].items()
        }
        self._cache = OrderedDict()

    def add_file(self, path: Path) -> Iterator[DiseaseRecord]:
        """Index a file; yields its records (the ids not seen before) once, for building the graph."""
        fd = os.open(path, os.O_RDONLY)  # kept open: the version stays readable after it is replaced
        self._fds.append(fd)
        self._paths.append(str(path))
        with path.open("rb") as source:
            start = 0
            for line in source:
                raw = orjson.loads(line)
                if raw["id"] not in self._where:
                    self._where[raw["id"]] = (fd, start, len(line))
                    yield DiseaseRecord.model_validate(raw)
                start += len(line)

    def __getitem__(self, disease_id: str) -> DiseaseRecord:
        record = self._cache.get(disease_id)
        if record is not None:
            self._cache.move_to_end(disease_id)
            return record
        fd, start, length = self._where[disease_id]
        record = DiseaseRecord.model_validate(orjson.loads(os.pread(fd, length, start)))
        self._cache[disease_id] = record
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return record

    def get(self, disease_id: str) -> DiseaseRecord | None:
        return self[disease_id] if disease_id in self._where else None

    def __contains__(self, disease_id: object) -> bool:
        return disease_id in self._where

    def __len__(self) -> int:
        return len(self._where)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def values(self) -> Iterator[DiseaseRecord]:
        return (self[disease_id] for disease_id in self._where)

    def close(self) -> None:
        for fd in getattr(self, "_fds", ()):  # a snapshot that failed to reopen has none
            os.close(fd)
        self._fds = []

    def __del__(self) -> None:
        self.close()
