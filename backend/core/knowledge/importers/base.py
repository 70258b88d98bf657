"""What every importer shares: the bad-row report, document validation and stable ids.

Importers are generators that never raise for bad data: a row that cannot become a Document is
reported as a RowError (with its file and line) and skipped, so one bad row never loses a whole
import, and nothing is dropped without a trace.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from backend.core.knowledge.store.documents import DOC_ID, Document
from backend.core.logging import get_logger
from backend.core.text import without_controls

log = get_logger("knowledge.importers")

# Undecodable bytes are read with errors="surrogateescape", which turns each into a lone surrogate:
# the reader keeps going and can name the exact row instead of failing the whole file.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Runs of id-safe text, e.g. "guides" and "txt" in "guides/饮食建议.txt".
_ID_SAFE_RUN = re.compile(r"[A-Za-z0-9]+(?:[._:/-][A-Za-z0-9]+)*")
_TITLE_MAX = 300


@dataclass(frozen=True, slots=True)
class RowError:
    """A row (or file) that was skipped, and why."""

    location: str  # "file.csv:17", "dir/file.xml:pair 3", "index.pkl:42"
    message: str  # names fields and problems, never echoes the row's text
    reason: str = "invalid row"  # short category, for counting in summaries

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


Item = Document | RowError
Reader = Callable[[Path], Iterator[Item]]


def has_undecodable(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def describe_validation(exc: ValidationError) -> str:
    """The fields a document failed on, without their values (rows may hold patient text)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "document"
        if error["type"] == "string_pattern_mismatch" and field == "id":
            message = "must be 1-200 of A-Z a-z 0-9 . _ : / - starting with a letter or digit"
        else:
            message = error["msg"]
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def make_document(data: Mapping[str, Any], location: str) -> Document | RowError:
    """Validate one document; anything the store could not hold becomes a RowError."""
    # Imported files often carry stray control characters (form feeds, NULs): dropped, not fatal.
    data = {
        key: without_controls(value) if key in {"title", "text"} and isinstance(value, str) else value
        for key, value in data.items()
    }
    try:
        document = Document.model_validate(data)
    except ValidationError as exc:
        return RowError(location, f"invalid document: {describe_validation(exc)}", "invalid document")
    try:
        # The store writes titles, texts and metadata as JSON: refuse here, with a line number,
        # what would otherwise fail the whole write later (lone surrogates, non-JSON values).
        orjson.dumps([document.title, document.text, document.metadata])
    except TypeError as exc:
        return RowError(location, f"cannot be stored as JSON: {exc}", "invalid document")
    return document


def stable_id(prefix: str, key: str, length: int = 16) -> str:
    """A short id that is the same on every import of the same key, so re-importing replaces."""
    return f"{prefix}-{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:length]}"


def id_from_text(prefix: str, key: str) -> str:
    """A readable id from `key` when it fits DOC_ID; otherwise a slug of it plus a hash of the whole.

    The hash keeps ids apart whose slugs coincide (e.g. two Chinese file names that both slug to '').
    """
    candidate = f"{prefix}{key}"
    if DOC_ID.match(candidate):
        return candidate
    slug = "-".join(_ID_SAFE_RUN.findall(key))[:150]
    return stable_id(f"{prefix}{slug}" if slug else prefix.rstrip("-:/") or "doc", key)


def short_title(text: str, limit: int = 80) -> str:
    """The first non-empty line of `text`, shortened; for documents that come without a title."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def clip_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= _TITLE_MAX else title[: _TITLE_MAX - 1].rstrip() + "…"


class SeenIds:
    """Remembers where each id came from, so a repeated id in one import is reported, not merged.

    The repository keeps the last document of an id; within one file a repeat is almost always a
    mistake in the data, so the first is kept and every later one is named as a RowError.
    """

    def __init__(self) -> None:
        self._first: dict[str, str] = {}

    def check(self, document: Document, location: str) -> Document | RowError:
        first = self._first.get(document.id)
        if first is None:
            self._first[document.id] = location
            return document
        return RowError(location, f"duplicate id {document.id!r}, first seen at {first}", "duplicate id")


def walk_files(root: Path, suffixes: frozenset[str]) -> Iterator[Path | RowError]:
    """Files under `root` with one of `suffixes` (lower case), in a stable order, skipping hidden ones.

    Symlinked directories are not followed, so a link cannot pull a tree outside `root` in, or loop.
    """
    directories = [root]
    while directories:
        directory = directories.pop()
        try:
            entries = sorted(directory.iterdir())
        except OSError as exc:
            where = directory.relative_to(root).as_posix() if directory != root else root.name
            yield RowError(where, f"cannot list the directory: {exc.strerror}", "unreadable")
            continue
        subdirectories = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and not entry.is_symlink():
                subdirectories.append(entry)
            elif entry.suffix.lower() in suffixes and entry.is_file():
                yield entry
        directories.extend(reversed(subdirectories))


def csv_rows(lines: Iterable[str], name: str) -> Iterator[tuple[int, list[str]] | RowError]:
    """CSV records with the line each starts on; a malformed record is reported and reading goes on.

    Lines are counted from the reader's own count, so quoted cells that span lines do not shift the
    numbers of the rows after them.
    """
    # Documents may hold up to 200,000 characters, above the csv module's default cell limit.
    csv.field_size_limit(max(csv.field_size_limit(), 1_000_000))
    reader = csv.reader(lines)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(f"{name}:{start}", f"malformed CSV: {exc}", "malformed row")
            if reader.line_num < start:  # no progress: the same error would repeat forever
                return
        except OSError as exc:
            yield RowError(f"{name}:{start}", f"reading stopped: {exc.strerror or exc}", "unreadable")
            return
        else:
            yield start, row
        start = reader.line_num + 1
