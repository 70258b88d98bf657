"""The graph over every store's structured diseases and its entity automaton, from store versions.

Kept apart from service.py (and free of metrics and app state) so the gunicorn master can load a
snapshot before it forks: see `inherit_for_fork`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from pathlib import Path

from backend.core.config import Settings
from backend.core.knowledge.graph.diseases import DiseaseRecord
from backend.core.knowledge.graph.entities import EntityExtractor
from backend.core.knowledge.graph.graph import KnowledgeGraph
from backend.core.knowledge.graph.records import RecordFiles
from backend.core.knowledge.graph.snapshot import (
    inherit,
    inherited_key,
    load_or_build,
    load_prebuilt,
    snapshot_key,
)
from backend.core.knowledge.store.repository import KnowledgeRepository

DISEASE_STORE = "diseases"


def load_snapshot(
    repository: KnowledgeRepository, versions: dict[str, int], cache_dir: Path
) -> tuple[KnowledgeGraph, EntityExtractor, dict[str, str]]:
    """The graph, its extractor and the origin map of these store versions: built once per host
    and version (snapshot.py), loaded by every other worker."""

    def build() -> tuple[KnowledgeGraph, EntityExtractor, dict[str, str]]:
        graph, origin = load_graph(repository, versions)
        return graph, EntityExtractor.build(graph), origin

    graph, extractor, origin = load_or_build(cache_dir / "graph", _key(repository, versions), build)
    return graph, extractor, origin


def load_graph(
    repository: KnowledgeRepository, versions: dict[str, int]
) -> tuple[KnowledgeGraph, dict[str, str]]:
    """The graph over every store's structured diseases (the starter store first), and the store
    each disease came from. Records stay on disk (see records.py); the graph keeps their offsets."""
    files = RecordFiles()
    records: list[DiseaseRecord] = []
    origin: dict[str, str] = {}
    for store in sorted(versions, key=lambda name: (name != DISEASE_STORE, name)):
        path = repository.records_path(store, versions[store])
        if path.exists():
            for record in files.add_file(path):
                origin[record.id] = store
                records.append(record)
    graph = KnowledgeGraph.build(records)
    graph.keep_records_in(files)
    del records
    _return_free_memory()
    return graph, origin


def _return_free_memory() -> None:
    """Hand the heap freed by the build back to the OS (glibc keeps it otherwise): per worker."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _key(repository: KnowledgeRepository, versions: dict[str, int]) -> str:
    records = {store: repository.records_path(store, version) for store, version in versions.items()}
    return snapshot_key(versions, records)


def inherit_for_fork(settings: Settings) -> bool:
    """In the gunicorn master before each fork: hold the snapshot of the current store versions,
    when some worker already built it, so the forked worker starts with it in shared memory
    instead of reading it (~0.5 s with 39健康网 + MedQuAD). Never builds one here: the master stays
    small, and a version nobody built yet is built by the first worker that needs it."""
    repository = KnowledgeRepository(settings)
    versions = {info.name: info.version for info in repository.list_stores()}
    key = _key(repository, versions)
    if key == inherited_key():
        return True
    snapshot = load_prebuilt(settings.cache_dir / "graph", key)
    if snapshot is None:
        return False
    inherit(key, snapshot)
    # Out of the collector's sight: the workers' collections then never write to (and so copy)
    # the pages holding the inherited graph.
    gc.freeze()
    return True
