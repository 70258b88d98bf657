"""Generic CSV: id, title and text columns, every other column into metadata; bad rows by line."""

from __future__ import annotations

from pathlib import Path

from backend.core.knowledge.importers import FORMATS, read_csv
from tests.core.knowledge.importers import FIXTURES, split


def test_fixture_rows_become_documents_and_the_bad_row_is_named_by_its_line() -> None:
    documents, errors = split(read_csv(FIXTURES / "docs.csv"))

    assert [d.id for d in documents] == ["faq-fever-child", "faq-sunburn", "faq-back-pain"]
    # The first row's text spans two lines inside quotes; the BOM does not leak into the "id" column.
    assert documents[0].text.count("\n") == 1
    assert documents[0].metadata == {"department": "儿科", "lang": "zh"}
    assert documents[1].metadata == {"lang": "en"}  # an empty cell is no value, not ""
    assert [(e.location, e.message) for e in errors] == [("docs.csv:5", "2 cells, but the header has 5")]
    assert FORMATS["csv"] is read_csv


def test_utf8_without_bom_and_line_numbers_after_multiline_cells(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text(
        'title,id,text\n"多行\n标题",a-1,"第一行\n第二行\n第三行"\n,a-2,没有标题\nB,a-3,正文\n',
        encoding="utf-8",
    )

    documents, errors = split(read_csv(path))

    assert [d.id for d in documents] == ["a-1", "a-3"]
    assert documents[0].title == "多行\n标题"
    assert [e.location for e in errors] == ["plain.csv:6"]  # the row before spans lines 2-5
    assert "title" in errors[0].message


def test_a_header_without_the_required_columns_stops_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("id,name,body\nx,y,z\n", encoding="utf-8")

    documents, errors = split(read_csv(path))

    assert documents == []
    assert [(e.location, e.reason) for e in errors] == [("wrong.csv:1", "bad header")]
    assert "title, text" in errors[0].message


def test_repeated_header_columns_and_empty_files_are_reported(tmp_path: Path) -> None:
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("id,title,text,tag,tag\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    assert [e.message for e in split(read_csv(repeated))[1]] == ["header repeats column(s) tag"]
    assert [e.reason for e in split(read_csv(empty))[1]] == ["bad header"]


def test_undecodable_bytes_fail_only_their_row(tmp_path: Path) -> None:
    path = tmp_path / "bytes.csv"
    path.write_bytes(b"id,title,text\nb-1,ok,fine\nb-2,\xb8\xdf\xd1\xaa\xd1\xb9,gbk bytes\nb-3,ok,fine\n")

    documents, errors = split(read_csv(path))

    assert [d.id for d in documents] == ["b-1", "b-3"]
    assert [(e.location, e.reason) for e in errors] == [("bytes.csv:3", "bad encoding")]


def test_cells_longer_than_the_csv_module_default_are_read(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(f"id,title,text\nlong-1,长文,{'字' * 150_000}\n", encoding="utf-8")

    documents, errors = split(read_csv(path))

    assert errors == []
    assert len(documents[0].text) == 150_000
