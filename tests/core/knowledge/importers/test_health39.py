"""The 39健康网 disease table: encodings, list cells, crawl artefacts and bad rows."""

from __future__ import annotations

import re
from pathlib import Path

from backend.core.knowledge.importers import FORMATS, read_health39
from backend.core.knowledge.importers.health39 import HEADER
from tests.core.knowledge.importers import FIXTURES, split

HEADER_LINE = ",".join(HEADER) + ",,,,,"


def _table(tmp_path: Path, *rows: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "table.csv"
    path.write_bytes("\n".join([HEADER_LINE, *rows, ""]).encode(encoding))
    return path


def test_utf8_fixture_maps_cells_onto_disease_records() -> None:
    documents, errors = split(read_health39(FIXTURES / "health39_utf8.csv"))

    assert [d.title for d in documents] == ["普通感冒", "痛风", "带状疱疹", "手足口病"]
    assert [(e.location, e.reason) for e in errors] == [("health39_utf8.csv:4", "misaligned row")]
    cold = documents[0].metadata
    assert cold["kind"] == "disease"
    assert cold["source"] == "39health"
    assert cold["aliases"] == ["伤风", "急性鼻咽炎"]
    assert cold["department"] == "呼吸内科、内科"
    assert cold["departments"] == ["呼吸内科", "内科"]
    assert cold["body_parts"] == ["鼻", "咽喉"]
    assert cold["symptoms"] == ["鼻塞", "流涕", "咽痛", "低热", "打喷嚏"]  # no "[详细]"
    assert cold["checks"] == ["血常规", "咽拭子检查"]
    assert cold["treatment"] == ["对症治疗", "休息"]
    assert cold["drugs"] == ["对乙酰氨基酚片", "感冒清热颗粒"]
    assert cold["complications"] == ["鼻窦炎", "中耳炎"]
    assert (cold["susceptible"], cold["contagious"], cold["course"], cold["cure_rate"]) == (
        "所有人群", True, "5-7天", "99%",
    )  # fmt: skip
    assert "症状：鼻塞；流涕" in documents[0].text
    assert "[详细]" not in "".join(d.text for d in documents)


def test_brackets_truncations_and_no_data_markers() -> None:
    documents, _ = split(read_health39(FIXTURES / "health39_utf8.csv"))
    gout, shingles, hfmd = (d.metadata for d in documents[1:])

    assert gout["aliases"] == ["高尿酸血症性关节炎", "痛风性关节炎"]  # Chinese comma
    assert gout["treatment"] == ["药物治疗", "饮食疗法（低嘌呤饮食、多饮水）"]  # 、 inside brackets stays
    assert gout["drugs"][-1] == "苯溴马..."  # cut short by the crawl, kept as it is
    assert gout["cure_rate"] == ""  # 暂无相关资料
    assert gout["contagious"] is False
    assert shingles["aliases"] == ["蛇串疮", "缠腰火丹"]  # space between Chinese names
    assert shingles["susceptible"] == "中老年人，免疫力低下者"
    # A row of the second crawl: leading space in the name, "..." for drugs, a route for "infection".
    assert hfmd["name"] == "手足口病"
    assert hfmd["drugs"] == []
    assert hfmd["contagious"] is True
    assert hfmd["transmission"] == "接触传播"
    assert hfmd["department"] == "儿科、小儿内科"


def test_ids_come_from_the_name_alone_so_reimports_replace(tmp_path: Path) -> None:
    first = split(read_health39(FIXTURES / "health39_utf8.csv"))[0]
    again = split(read_health39(FIXTURES / "health39_utf8.csv"))[0]
    edited = _table(tmp_path, "普通感冒,,,,,,呼吸内科,,咳嗽,,,,,,")

    assert [d.id for d in first] == [d.id for d in again]
    assert all(re.fullmatch(r"h39-[0-9a-f]{16}", d.id) for d in first)
    assert split(read_health39(edited))[0][0].id == first[0].id


def test_gb18030_is_detected_and_reads_like_utf8(tmp_path: Path) -> None:
    gb_path = FIXTURES / "health39_gb18030.csv"
    utf8_copy = tmp_path / "health39_gb18030.csv"
    utf8_copy.write_text(gb_path.read_bytes().decode("gb18030"), encoding="utf-8")

    documents, errors = split(read_health39(gb_path))
    same, same_errors = split(read_health39(utf8_copy))

    assert [d.title for d in documents] == ["缺铁性贫血", "荨麻疹"]
    assert documents == same
    assert [(e.location, e.message) for e in errors] == [("health39_gb18030.csv:3", "name is empty")]
    assert errors == same_errors
    # A Chinese comma inside a symptom joins one phrase; it is not a list separator.
    assert documents[0].metadata["symptoms"] == ["乏力", "面色苍白", "头晕", "心悸，活动后加重"]
    assert FORMATS["health39"] is read_health39


def test_repeated_names_keep_the_first_row_and_report_the_others(tmp_path: Path) -> None:
    path = _table(
        tmp_path,
        "哮喘,支气管哮喘,肺,所有人群,无传染性,医保疾病,呼吸内科,肺功能 [详细],喘息 [详细],,,,长期,60%,",
        " 哮喘,,,儿童,无传染性,,内科  呼吸内科,肺功能,咳嗽,,药物治疗,,,,",
    )

    documents, errors = split(read_health39(path))

    assert [d.metadata["aliases"] for d in documents] == [["支气管哮喘"]]
    assert [(e.location, e.message) for e in errors] == [
        ("table.csv:3", "duplicate disease name, kept line 2")
    ]


def test_aliases_split_on_commas_and_between_chinese_names_only(tmp_path: Path) -> None:
    path = _table(
        tmp_path,
        '甲病,"SLE, 系统性红斑狼疮，狼疮 红斑病",,,,,,,,,,,,,',
        "乙病,ovarian granulosa cell tumors,,,,,,,,,,,,,",
        "丙病,老年人 Henoch-Schonlein综合征、乙病,,,,,,,,,,,,,",
    )

    documents, errors = split(read_health39(path))

    assert errors == []
    assert [d.metadata["aliases"] for d in documents] == [
        ["SLE", "系统性红斑狼疮", "狼疮", "红斑病"],
        ["ovarian granulosa cell tumors"],
        ["老年人 Henoch-Schonlein综合征", "乙病"],
    ]


def test_an_unclosed_bracket_does_not_swallow_the_rest_of_the_cell(tmp_path: Path) -> None:
    path = _table(tmp_path, "丁病,,,,,,,核磁共振成像(... 脑电图 血常规,,,,,,,")

    documents, _ = split(read_health39(path))

    assert documents[0].metadata["checks"] == ["核磁共振成像(...", "脑电图", "血常规"]


def test_truncated_names_are_flagged(tmp_path: Path) -> None:
    path = _table(tmp_path, " 获得性免疫缺...,,,,,,,,,,,,,,")

    documents, _ = split(read_health39(path))

    assert documents[0].title == "获得性免疫缺..."
    assert documents[0].metadata["name_truncated"] is True


def test_short_rows_wrong_headers_and_bad_bytes(tmp_path: Path) -> None:
    short = _table(tmp_path, "戊病,别名,部位")
    assert [e.message for e in split(read_health39(short))[1]] == ["3 cells, expected at least 15"]

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,title,text\nx,y,z\n", encoding="utf-8")
    documents, errors = split(read_health39(wrong))
    assert documents == []
    assert [(e.location, e.reason) for e in errors] == [("wrong.csv:1", "bad header")]

    # \x80 and \xff are not GB18030 either: only those rows fail.
    garbled = tmp_path / "garbled.csv"
    garbled.write_bytes(
        (HEADER_LINE + "\n己病,,,,,,,,,,,,,,\n").encode("gb18030") + b"\xff\x80,,,,,,,,,,,,,,\n"
        + "庚病,,,,,,,,,,,,,,\n".encode("gb18030")
    )  # fmt: skip
    documents, errors = split(read_health39(garbled))
    assert [d.title for d in documents] == ["己病", "庚病"]
    assert [(e.location, e.message) for e in errors] == [
        ("garbled.csv:3", "bytes that are not valid gb18030")
    ]


def test_a_missing_file_is_one_error(tmp_path: Path) -> None:
    assert [e.reason for e in split(read_health39(tmp_path / "absent.csv"))[1]] == ["unreadable"]
