"""MedQuAD XML: answered pairs become documents; unsafe or broken files are refused, by name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from backend.core.knowledge.importers import FORMATS, read_medquad
from tests.core.knowledge.importers import FIXTURES, split

PAIR = '<QAPair pid="{pid}"><Question qid="q" qtype="information">{q}</Question><Answer>{a}</Answer></QAPair>'


def _xml(doc_id: str, *pairs: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document id="{doc_id}" source="Test" url="https://example.org/{doc_id}">'
        f"<Focus>Focus {doc_id}</Focus><QAPairs>{''.join(pairs)}</QAPairs></Document>\n"
    )


def test_fixture_answered_pairs_become_documents(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="medqa.knowledge.importers"):
        documents, errors = split(read_medquad(FIXTURES / "medquad"))

    assert errors == []
    # Both subsets number their documents 0000001_1: the source keeps the ids apart.
    assert [d.id for d in documents] == [
        "medquad-DemoHealth-0000001_1-1",
        "medquad-DemoHealth-0000001_1-2",
        "medquad-DemoClinic-0000001_1-1",
        "medquad-DemoClinic-0000001_1-2",
    ]
    first = documents[0]
    assert first.title == "What is (are) Iron Deficiency Anemia ?"
    assert first.text.startswith("What is (are) Iron Deficiency Anemia ?\n\nKey Points\n")
    # Inline "    - item" runs are list items again, and the XML's indentation is gone.
    assert "\n- Iron deficiency anemia happens" in first.text
    assert "\n- It is common in young children" in first.text
    assert "  " not in first.text
    assert first.metadata == {
        "kind": "qa",
        "source": "DemoHealth",
        "focus": "Iron Deficiency Anemia",
        "qtype": "information",
        "url": "https://example.org/health/iron-deficiency",
    }
    # The lower-case schema (doc/docid/corpus/doctitle-focus/pair) of a few real NINDS files.
    assert documents[2].metadata["focus"] == "Restless Legs Syndrome"
    assert documents[2].metadata["qtype"] == "information"
    # The empty answer is counted and logged, not an error.
    assert "skipped 1 of 5 question(s) without an answer" in caplog.text
    assert FORMATS["medquad"] is read_medquad


def test_a_single_file_can_be_read() -> None:
    documents, errors = split(read_medquad(FIXTURES / "medquad" / "2_Clinic_QA" / "0000001_1.xml"))

    assert len(documents) == 2
    assert errors == []


def test_dtds_and_entities_are_refused_and_other_files_still_read(tmp_path: Path) -> None:
    (tmp_path / "a_good.xml").write_text(
        _xml("0000001", PAIR.format(pid=1, q="What is A ?", a="A is a test."))
    )
    (tmp_path / "b_laughs.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
        + _xml("0000002", PAIR.format(pid=1, q="What is B ?", a="&lol2;")).split("\n", 1)[1]
    )
    (tmp_path / "c_external.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<d>&x;</d>\n'
    )

    documents, errors = split(read_medquad(tmp_path))

    assert [d.id for d in documents] == ["medquad-Test-a_good-1"]
    assert [(e.location, e.reason) for e in errors] == [
        ("b_laughs.xml", "unsafe XML"),
        ("c_external.xml", "unsafe XML"),
    ]
    assert "passwd" not in " ".join(e.message for e in errors)


def test_malformed_xml_is_named_with_its_line_and_foreign_xml_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "broken.xml").write_text('<?xml version="1.0"?>\n<Document id="1">\n<QAPairs>\n</Document>\n')
    (tmp_path / "other.xml").write_text("<rss><channel/></rss>")
    (tmp_path / "empty_pairs.xml").write_text(_xml("0000009"))
    (tmp_path / "notes.txt").write_text("not XML, and not looked at")

    documents, errors = split(read_medquad(tmp_path))

    assert documents == []
    assert [(e.location, e.reason) for e in errors] == [
        ("broken.xml:4", "malformed XML"),
        ("other.xml", "not MedQuAD"),
    ]  # a file with an empty <QAPairs/> has nothing to import and is no error


def test_pairs_without_a_question_are_errors_and_nested_dirs_are_walked(tmp_path: Path) -> None:
    nested = tmp_path / "9_Sub_QA" / "deeper"
    nested.mkdir(parents=True)
    (nested / "0000003.xml").write_text(
        _xml("0000003", PAIR.format(pid=1, q="", a="An answer."), PAIR.format(pid=2, q="Why ?", a="Because."))
    )

    documents, errors = split(read_medquad(tmp_path))

    assert [d.id for d in documents] == ["medquad-Test-0000003-2"]
    assert [(e.location, e.message) for e in errors] == [
        ("9_Sub_QA/deeper/0000003.xml:pair 1", "the question is empty")
    ]


def test_a_missing_path_is_one_error(tmp_path: Path) -> None:
    assert [e.reason for e in split(read_medquad(tmp_path / "absent.xml"))[1]] == ["unreadable"]
