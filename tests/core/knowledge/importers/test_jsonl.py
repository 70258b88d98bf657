"""JSON Lines: each good line a document; each bad one a RowError with its line, and reading goes on."""

from __future__ import annotations

from pathlib import Path

from backend.core.knowledge.importers import FORMATS, read_jsonl
from tests.core.knowledge.importers import FIXTURES, split


def test_fixture_yields_good_lines_and_names_the_bad_ones() -> None:
    documents, errors = split(read_jsonl(FIXTURES / "docs.jsonl"))

    assert [d.id for d in documents] == ["guide-home-bp", "guide-asthma-plan", "guide-diabetic-foot"]
    assert documents[0].title == "家庭血压测量要点"
    assert documents[0].metadata == {"lang": "zh", "department": "心血管内科"}
    assert documents[2].metadata == {}
    assert [(e.location, e.reason) for e in errors] == [
        ("docs.jsonl:3", "invalid JSON"),
        ("docs.jsonl:4", "invalid document"),
    ]
    assert "title" in errors[1].message
    assert FORMATS["jsonl"] is read_jsonl


def test_bad_lines_of_every_kind_are_reported_without_echoing_their_text(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        '{"id": "ok-1", "title": "一", "text": "第一条"}',
        '["not", "an", "object"]',
        '{"id": "bad id with spaces", "title": "t", "text": "SECRET-PATIENT-TEXT"}',
        '{"id": "ok-2", "title": "二", "text": "第二条"}',
        '{"id": "ok-1", "title": "again", "text": "the same id twice"}',
        '{"id": "ok-3", "title": "t", "text": "x", "extra": 1}',
    ]
    path.write_bytes("\n".join(lines).encode() + b'\n{"id": "raw", "title": "\xff", "text": "x"}\n')

    documents, errors = split(read_jsonl(path))

    assert [d.id for d in documents] == ["ok-1", "ok-2"]
    by_line = {e.location: e for e in errors}
    assert by_line["mixed.jsonl:2"].message == "expected a JSON object, found list"
    assert by_line["mixed.jsonl:3"].message.startswith("invalid document: id: must be")
    assert by_line["mixed.jsonl:5"].reason == "duplicate id"
    assert "mixed.jsonl:1" in by_line["mixed.jsonl:5"].message
    assert by_line["mixed.jsonl:6"].message == "invalid document: extra: Extra inputs are not permitted"
    assert by_line["mixed.jsonl:7"].reason == "bad encoding"
    assert not any("SECRET" in e.message for e in errors)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "w-1", "title": "t", "text": "x"}\r\n{"id": "w-2", "title": "t", "text": "y"}\n'
    )

    documents, errors = split(read_jsonl(path))

    assert [d.id for d in documents] == ["w-1", "w-2"]
    assert errors == []


def test_a_missing_file_is_one_error_not_an_exception(tmp_path: Path) -> None:
    documents, errors = split(read_jsonl(tmp_path / "absent.jsonl"))

    assert documents == []
    assert [(e.location, e.reason) for e in errors] == [("absent.jsonl", "unreadable")]
