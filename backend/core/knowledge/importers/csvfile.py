"""Generic CSV: header columns id, title and text; every other column goes into metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backend.core.knowledge.importers.base import (
    Item,
    RowError,
    SeenIds,
    csv_rows,
    has_undecodable,
    make_document,
)

REQUIRED = ("id", "title", "text")


def read_csv(path: Path) -> Iterator[Item]:
    try:
        handle = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        yield RowError(path.name, f"cannot read the file: {exc.strerror or exc}", "unreadable")
        return
    with handle:
        rows = csv_rows(handle, path.name)
        header = _header(rows, path.name)
        if isinstance(header, RowError):
            yield header
            return
        seen = SeenIds()
        for item in rows:
            if isinstance(item, RowError):
                yield item
                continue
            number, row = item
            if not any(cell.strip() for cell in row):
                continue
            yield _document(header, row, f"{path.name}:{number}", seen)


def _header(rows: Iterator[tuple[int, list[str]] | RowError], name: str) -> list[str] | RowError:
    # The file as a whole is the wrong shape: one error for line 1, and no row is read.
    first = next(rows, None)
    if first is None:
        return RowError(f"{name}:1", "the file is empty: expected a header with id,title,text", "bad header")
    if isinstance(first, RowError):
        return RowError(first.location, f"header: {first.message}", "bad header")
    header = [cell.strip() for cell in first[1]]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        return RowError(f"{name}:1", f"header lacks column(s) {', '.join(missing)}", "bad header")
    if "" in header:
        return RowError(f"{name}:1", f"header column {header.index('') + 1} has no name", "bad header")
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        return RowError(f"{name}:1", f"header repeats column(s) {', '.join(repeated)}", "bad header")
    return header


def _document(header: list[str], row: list[str], location: str, seen: SeenIds) -> Item:
    if len(row) != len(header):
        return RowError(location, f"{len(row)} cells, but the header has {len(header)}", "malformed row")
    if any(has_undecodable(cell) for cell in row):
        return RowError(location, "bytes that are not valid UTF-8", "bad encoding")
    cells = dict(zip(header, row, strict=True))
    # An empty cell means "no value", so it is left out of metadata rather than stored as "".
    metadata: dict[str, Any] = {k: v for k, v in cells.items() if k not in REQUIRED and v.strip()}
    data = {
        "id": cells["id"].strip(),
        "title": cells["title"].strip(),
        "text": cells["text"].strip(),
        "metadata": metadata,
    }
    document = make_document(data, location)
    return document if isinstance(document, RowError) else seen.check(document, location)
