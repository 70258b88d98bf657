"""JSON Lines: one document per line, {"id", "title", "text", "metadata"?}."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from backend.core.knowledge.importers.base import Item, RowError, SeenIds, has_undecodable, make_document


def read_jsonl(path: Path) -> Iterator[Item]:
    seen = SeenIds()
    try:
        # utf-8-sig: editors on Windows often save a BOM, which json.loads would refuse.
        handle = path.open(encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        yield RowError(path.name, f"cannot read the file: {exc.strerror or exc}", "unreadable")
        return
    with handle:
        number = 0
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                yield _parse(line, f"{path.name}:{number}", seen)
        except OSError as exc:
            yield RowError(
                f"{path.name}:{number + 1}", f"reading stopped: {exc.strerror or exc}", "unreadable"
            )


def _parse(line: str, location: str, seen: SeenIds) -> Item:
    if has_undecodable(line):
        return RowError(location, "bytes that are not valid UTF-8", "bad encoding")
    try:
        data = json.loads(line.strip())
    except json.JSONDecodeError as exc:
        return RowError(location, f"invalid JSON: {exc.msg} at column {exc.colno}", "invalid JSON")
    if not isinstance(data, dict):
        return RowError(location, f"expected a JSON object, found {type(data).__name__}", "invalid JSON")
    document = make_document(data, location)
    if isinstance(document, RowError):
        return document
    return seen.check(document, location)
