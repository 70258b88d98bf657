"""The 39健康网 disease table (name, alias, ..., money), in UTF-8 or GB18030, as DiseaseRecords.

What the real table looks like, and why the parsing below is shaped the way it is:
- List cells are separated by spaces (alias by ASCII or Chinese commas), often end with the crawl
  artefact " [详细]", and drug names are cut short with "...".
- A Chinese comma inside a symptom is part of one phrase ("口角歪斜，无法说话"), so symptoms, checks,
  complications and drugs split on spaces only; treatments are also listed with 、 and ，.
- The file is two crawls one after the other; the second repeats thousands of names with poorer
  cells (no aliases, names with a leading space, often cut to six characters and "..."). The id
  is derived from the name, so the first (richer) row of a name is kept and later ones reported.
- Every row has 20 cells; the 5 after "money" are unnamed. A few rows have text in them: their
  cells are shifted (the name sits in cell 16), so they are reported rather than misread.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backend.core.knowledge.graph.diseases import DiseaseRecord
from backend.core.knowledge.importers.base import (
    Item,
    RowError,
    csv_rows,
    has_undecodable,
    make_document,
    stable_id,
)

HEADER = (
    "name", "alias", "part", "age", "infection", "insurance", "department", "checklist", "symptom",
    "complication", "treatment", "drug", "period", "rate", "money",
)  # fmt: skip

_DETAIL = re.compile(r"\[详细\]")
_NO_DATA = frozenset({"", "暂无相关资料", "暂无资料", "暂无", "...", "…"})
# Separators outside brackets only: "手术治疗（洗胃、催吐）" is one treatment, not three.
_OPENERS = frozenset("(（[【")
_CLOSERS = frozenset(")）]】")
_SPACES = frozenset(" \t\u3000")
_TREATMENT_SEPARATORS = _SPACES | frozenset("、，,;；")
_ALIAS_SEPARATORS = frozenset("、，,;；")
_CJK_SPACE_CJK = re.compile(r"(?<=[\u3400-\u9fff])[ \t\u3000]+(?=[\u3400-\u9fff])")


def read_health39(path: Path) -> Iterator[Item]:
    try:
        encoding = _detect_encoding(path)
        handle = path.open(encoding=encoding, errors="surrogateescape", newline="")
    except OSError as exc:
        yield RowError(path.name, f"cannot read the file: {exc.strerror or exc}", "unreadable")
        return
    with handle:
        rows = csv_rows(handle, path.name)
        first = next(rows, None)
        header_error = _check_header(first, path.name)
        if header_error:
            yield header_error
            return
        first_line: dict[str, int] = {}
        for item in rows:
            if isinstance(item, RowError):
                yield item
                continue
            number, row = item
            if any(cell.strip() for cell in row):
                yield _document(row, number, f"{path.name}:{number}", encoding, first_line)


def _detect_encoding(path: Path) -> str:
    """UTF-8 when the whole file decodes strictly as UTF-8, else GB18030 (the table's original).

    Decoded in pieces so a large table is never held in memory twice.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with path.open("rb") as raw:
        try:
            while piece := raw.read(1 << 20):
                decoder.decode(piece)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def _check_header(first: tuple[int, list[str]] | RowError | None, name: str) -> RowError | None:
    if first is None:
        return RowError(f"{name}:1", "the file is empty", "bad header")
    if isinstance(first, RowError):
        return RowError(first.location, f"header: {first.message}", "bad header")
    header = [cell.strip().lstrip("\ufeff") for cell in first[1]]
    if tuple(header[: len(HEADER)]) != HEADER or any(header[len(HEADER) :]):
        return RowError(
            f"{name}:1", f"not the 39健康网 table: expected the header {','.join(HEADER)}", "bad header"
        )
    return None


def _document(row: list[str], number: int, location: str, encoding: str, first_line: dict[str, int]) -> Item:
    if len(row) < len(HEADER):
        return RowError(location, f"{len(row)} cells, expected at least {len(HEADER)}", "malformed row")
    if any(cell.strip() for cell in row[len(HEADER) :]):
        return RowError(location, "text beyond the 15 named columns: the cells are shifted", "misaligned row")
    if any(has_undecodable(cell) for cell in row):
        return RowError(location, f"bytes that are not valid {encoding.removesuffix('-sig')}", "bad encoding")
    cell = dict(zip(HEADER, row, strict=False))
    name = _value(cell["name"])
    if not name:
        return RowError(location, "name is empty", "invalid row")
    if name in first_line:
        return RowError(location, f"duplicate disease name, kept line {first_line[name]}", "duplicate name")
    first_line[name] = number
    departments = _split(cell["department"], _SPACES)
    record = DiseaseRecord(
        id=stable_id("h39", name),
        name=name,
        aliases=[alias for alias in _split_aliases(cell["alias"]) if alias != name],
        department="、".join(departments),
        symptoms=_split(cell["symptom"], _SPACES),
        checks=_split(cell["checklist"], _SPACES),
        complications=_split(cell["complication"], _SPACES),
        treatment=_split(cell["treatment"], _TREATMENT_SEPARATORS),
        drugs=_split(cell["drug"], _SPACES),
        susceptible=_value(cell["age"]),
        contagious=_contagious(cell["infection"]),
        course=_value(cell["period"]),
        cure_rate=_value(cell["rate"]),
    )
    document = record.to_document()
    extra: dict[str, Any] = {"source": "39health", "departments": departments}
    if parts := _split(cell["part"], _SPACES):
        extra["body_parts"] = parts
    if record.contagious and (route := _value(cell["infection"])) not in {"有传染性", "部分有传染性"}:
        extra["transmission"] = route  # the second crawl names the route instead of 有传染性
    if name.endswith(("...", "…")):
        extra["name_truncated"] = True  # the crawl cut the name short; the title is not the full name
    return make_document({**document.model_dump(), "metadata": {**document.metadata, **extra}}, location)


def _value(cell: str) -> str:
    text = " ".join(_DETAIL.sub("", cell).split())
    return "" if text in _NO_DATA else text


def _split(cell: str, separators: frozenset[str]) -> list[str]:
    """Items of a list cell, split on `separators` outside brackets; empty and repeated items dropped."""
    text = _DETAIL.sub(" ", cell)
    items = _split_outside_brackets(text, separators)
    if items is None:  # a bracket never closes (a name cut short with "..."): brackets mean nothing
        items = _split_outside_brackets(text, separators, brackets=False) or []
    unique: dict[str, None] = {}
    for raw in items:
        item = raw.strip()
        if not item.endswith(("...", "…")):
            item = item.rstrip("。;；").strip()
        if item not in _NO_DATA:
            unique.setdefault(item)
    return list(unique)


def _split_outside_brackets(text: str, separators: frozenset[str], brackets: bool = True) -> list[str] | None:
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if brackets and char in _OPENERS:
            depth += 1
        elif brackets and char in _CLOSERS and depth:
            depth -= 1  # "（...)" mixes widths in the data, so any closer closes any opener
        if char in separators and not depth:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return None if depth else items


def _split_aliases(cell: str) -> list[str]:
    # Aliases are comma lists, but some use spaces between Chinese names ("热淋 下尿路急性感染");
    # a space next to Latin letters stays ("ovarian granulosa cell tumors").
    return _split(_CJK_SPACE_CJK.sub("，", cell), _ALIAS_SEPARATORS)


def _contagious(cell: str) -> bool | None:
    value = _value(cell)
    if not value:
        return None
    if any(word in value for word in ("无传染", "非传染", "不传染", "没有传染")):
        return False
    if any(word in value for word in ("传染", "传播", "叮咬")):
        return True  # 有传染性, or a route of transmission (呼吸道传播, 蚊虫叮咬, ...)
    return None
