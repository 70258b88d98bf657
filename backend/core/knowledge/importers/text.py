"""Plain text and Markdown: a .txt or .md file, or a directory of them; one Document per file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from backend.core.knowledge.importers.base import (
    Item,
    RowError,
    SeenIds,
    clip_title,
    id_from_text,
    make_document,
    walk_files,
)

MARKDOWN = frozenset({".md", ".markdown"})
SUFFIXES = MARKDOWN | {".txt"}
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*\n", re.DOTALL)


def read_text(path: Path) -> Iterator[Item]:
    seen = SeenIds()
    if path.is_dir():
        for file in walk_files(path, SUFFIXES):
            if isinstance(file, RowError):
                yield file
            else:
                yield _document(file, file.relative_to(path).as_posix(), seen)
    elif path.suffix.lower() in SUFFIXES or not path.exists():
        yield _document(path, path.name, seen)
    else:
        yield RowError(
            path.name, f"not a text file: expected {', '.join(sorted(SUFFIXES))}", "unsupported file"
        )


def _document(file: Path, name: str, seen: SeenIds) -> Item:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        return RowError(name, f"cannot read the file: {exc.strerror or exc}", "unreadable")
    content = None if b"\0" in raw else _decode(raw)  # NUL bytes: a binary file named .txt
    if content is None:
        return RowError(name, "neither UTF-8 nor GB18030 text", "bad encoding")
    content = content.replace("\r\n", "\n").replace("\r", "\n").strip()
    markdown = file.suffix.lower() in MARKDOWN
    if markdown:
        # YAML front matter describes the file (author, tags) and is not text to retrieve.
        content = _FRONT_MATTER.sub("", content).strip()
    if not content:
        return RowError(name, "the file is empty", "empty")
    title = (_heading(content) if markdown else None) or file.stem
    data = {
        "id": id_from_text("", name),
        "title": clip_title(title),
        "text": content,
        "metadata": {"path": name, "format": "markdown" if markdown else "text"},
    }
    document = make_document(data, name)
    return document if isinstance(document, RowError) else seen.check(document, name)


def _decode(raw: bytes) -> str | None:
    # Text written on Chinese Windows machines is often GB18030/GBK rather than UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _heading(content: str) -> str | None:
    """The first Markdown heading (# Title, or Title underlined with === or ---), if any."""
    lines = content.split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence  # a "# comment" in a code block is not a heading
            continue
        if in_fence:
            continue
        if match := _ATX_HEADING.match(line):
            return match.group(1).strip()
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and _SETEXT_UNDERLINE.match(following) and not _SETEXT_UNDERLINE.match(line):
            return line.strip()
    return None
