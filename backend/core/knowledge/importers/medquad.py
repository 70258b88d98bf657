"""MedQuAD (English NIH consumer-health QA): a directory of XML files, one Document per answered pair.

Shapes seen in the real collection, all handled:
- <Document id source url><Focus/><QAPairs><QAPair pid><Question qid qtype/><Answer/>, the common one;
- <DiseaseFile fid source url> (CDC) and <doc docid corpus url><doctitle-focus/><qaPairs><pair>
  <question/><answer/> (a few NINDS files);
- ids repeat: every subset numbers from 0000001, and several CancerGov files share one document id
  (one page, several foci), so ids are made from the source and the *file name*, which are unique.
Pairs with an empty answer are expected (MedlinePlus subsets were published without answers): they
are counted and logged, not reported as errors.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # the Element type and ParseError only: parsing is defusedxml's
from collections.abc import Iterator
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse as safe_parse

from backend.core.knowledge.importers.base import (
    Item,
    RowError,
    SeenIds,
    clip_title,
    id_from_text,
    log,
    make_document,
    walk_files,
)

_PAIR_TAGS = frozenset({"qapair", "pair"})
_FOCUS_TAGS = frozenset({"focus", "doctitle-focus"})
# Answers were flattened from web pages: list items survive as "    - item" runs inside a line.
_INLINE_BULLET = re.compile(r"[ \t]{2,}-[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def read_medquad(path: Path) -> Iterator[Item]:
    root = path if path.is_dir() else path.parent
    files: Iterator[Path | RowError] = (
        walk_files(path, frozenset({".xml"})) if path.is_dir() else iter([path])
    )
    seen = SeenIds()
    counts = {"files": 0, "empty_files": 0, "pairs": 0, "unanswered": 0}
    for file in files:
        if isinstance(file, RowError):
            yield file
            continue
        counts["files"] += 1
        yield from _read_file(file, file.relative_to(root).as_posix(), seen, counts)
    skipped = []
    if counts["unanswered"]:
        skipped.append(f"{counts['unanswered']} of {counts['pairs']} question(s) without an answer")
    if counts["empty_files"]:
        skipped.append(f"{counts['empty_files']} file(s) without questions")
    if skipped:
        log.info(
            "medquad: skipped %s (expected: some MedQuAD subsets were published without answers)",
            " and ".join(skipped),
        )


def _read_file(file: Path, name: str, seen: SeenIds, counts: dict[str, int]) -> Iterator[Item]:
    try:
        # No DTD, no entities, no external references: a crafted file cannot expand or fetch anything.
        tree = safe_parse(str(file), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        yield RowError(
            name, f"refused: the file declares a DTD or entities ({type(exc).__name__})", "unsafe XML"
        )
        return
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        yield RowError(f"{name}:{line}", f"malformed XML: {exc}", "malformed XML")
        return
    except OSError as exc:
        yield RowError(name, f"cannot read the file: {exc.strerror or exc}", "unreadable")
        return
    document = tree.getroot()
    if document is None:
        yield RowError(name, "the file has no root element", "malformed XML")
        return
    source = document.get("source") or document.get("corpus") or file.parent.name or "medquad"
    url = document.get("url") or ""
    focus = next((_text(child) for child in document if child.tag.lower() in _FOCUS_TAGS), "")
    pairs = [element for element in document.iter() if element.tag.lower() in _PAIR_TAGS]
    if not pairs:
        if any(element.tag.lower() == "qapairs" for element in document.iter()):
            counts["empty_files"] += 1  # a few real files have an empty <QAPairs/>: nothing to import
        else:
            yield RowError(name, "no QAPairs element: not a MedQuAD file", "not MedQuAD")
        return
    for number, pair in enumerate(pairs, 1):
        pid = pair.get("pid") or str(number)
        location = f"{name}:pair {pid}"
        counts["pairs"] += 1
        question_element = _child(pair, "question")
        question = _text(question_element)
        answer = _clean(_text(_child(pair, "answer"), keep_lines=True))
        if not answer:
            counts["unanswered"] += 1
            continue
        if not question:
            yield RowError(location, "the question is empty", "invalid document")
            continue
        qtype = question_element.get("qtype", "") if question_element is not None else ""
        item = make_document(
            {
                "id": id_from_text("medquad-", f"{source}-{file.stem}-{pid}"),
                "title": clip_title(question),
                "text": f"{question}\n\n{answer}",
                "metadata": {"kind": "qa", "source": source, "focus": focus, "qtype": qtype, "url": url},
            },
            location,
        )
        yield item if isinstance(item, RowError) else seen.check(item, location)


def _child(element: ET.Element, tag: str) -> ET.Element | None:
    return next((child for child in element if child.tag.lower() == tag), None)


def _text(element: ET.Element | None, keep_lines: bool = False) -> str:
    if element is None:
        return ""
    text = "".join(element.itertext())
    return text.strip() if keep_lines else " ".join(text.split())


def _clean(answer: str) -> str:
    """Indentation from the XML removed, inline list items back on lines of their own."""
    answer = _INLINE_BULLET.sub("\n- ", answer)
    lines = (" ".join(line.split()) for line in answer.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
