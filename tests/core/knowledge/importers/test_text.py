"""Text and Markdown files: one document per file, titled by the first heading or the file name."""

from __future__ import annotations

from pathlib import Path

from backend.core.knowledge.importers import FORMATS, read_text
from tests.core.knowledge.importers import FIXTURES, split


def test_fixture_directory_yields_one_document_per_file() -> None:
    documents, errors = split(read_text(FIXTURES / "texts"))

    assert errors == []
    markdown, text = documents
    assert markdown.id == "flu-season.md"
    assert markdown.title == "流感季节的自我防护"
    assert markdown.text.startswith("# 流感季节的自我防护")  # front matter dropped
    assert markdown.metadata == {"path": "flu-season.md", "format": "markdown"}
    # A path that is not a valid id keeps its ASCII parts and gains a stable hash.
    assert text.id.startswith("guides-txt-")
    assert text.title == "饮食建议"  # a .txt file is titled by its name, not its first line
    assert text.metadata == {"path": "guides/饮食建议.txt", "format": "text"}
    assert split(read_text(FIXTURES / "texts"))[0] == documents
    assert FORMATS["text"] is read_text


def test_a_single_file_is_one_document() -> None:
    documents, errors = split(read_text(FIXTURES / "texts" / "flu-season.md"))

    assert [d.id for d in documents] == ["flu-season.md"]
    assert errors == []


def test_headings_setext_fences_and_files_without_one(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Intro line\n\nDiabetes care\n=============\n\nText.\n")
    (tmp_path / "b.md").write_text("```sh\n# not a heading\n```\n\n## Real heading ##\n")
    (tmp_path / "c.markdown").write_text("No heading at all.\n")

    documents, errors = split(read_text(tmp_path))

    assert errors == []
    assert [d.title for d in documents] == ["Diabetes care", "Real heading", "c"]


def test_encodings_empty_and_binary_files(tmp_path: Path) -> None:
    (tmp_path / "gbk.txt").write_bytes("头痛时注意休息。".encode("gb18030"))
    (tmp_path / "empty.md").write_text("  \n\n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # not a text suffix: not looked at
    (tmp_path / ".hidden.md").write_text("# hidden")

    documents, errors = split(read_text(tmp_path))

    assert [(d.id, d.text) for d in documents] == [("gbk.txt", "头痛时注意休息。")]
    assert [(e.location, e.reason) for e in errors] == [("binary.txt", "bad encoding"), ("empty.md", "empty")]


def test_unsupported_and_missing_single_files(tmp_path: Path) -> None:
    pdf = tmp_path / "guide.pdf"
    pdf.write_bytes(b"%PDF")

    assert [e.reason for e in split(read_text(pdf))[1]] == ["unsupported file"]
    assert [e.reason for e in split(read_text(tmp_path / "absent.md"))[1]] == ["unreadable"]


def test_texts_too_long_for_a_document_are_reported(tmp_path: Path) -> None:
    (tmp_path / "huge.txt").write_text("字" * 200_001, encoding="utf-8")

    documents, errors = split(read_text(tmp_path))

    assert documents == []
    assert errors[0].location == "huge.txt"
    assert "text: String should have at most 200000 characters" in errors[0].message
