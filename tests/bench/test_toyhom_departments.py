"""The Toyhom department map only targets departments of the product's taxonomy (no data set needed)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.toyhom_departments import DEPARTMENT_MAP, load_cases

DEPARTMENTS_JSON = (
    Path(__file__).resolve().parents[2] / "backend" / "core" / "knowledge" / "starter" / "departments.json"
)


def test_every_mapped_department_is_a_taxonomy_name() -> None:
    names = {row["name"] for row in json.loads(DEPARTMENTS_JSON.read_text(encoding="utf-8"))}
    assert DEPARTMENT_MAP
    unknown = {label: target for label, target in DEPARTMENT_MAP.items() if target not in names}
    assert not unknown


def test_load_cases_reads_gb18030_and_utf8_once(tmp_path: Path) -> None:
    text = (
        "department,title,ask,answer\r\n"
        '心血管科,高血压,"我有高血压，\r\n能吃党参吗？",可以\r\n'
        "普通内科,胃痛,胃痛怎么办？,看医生\r\n"
        "消化科,空,,无\r\n"
        "短行\r\n"
        "消化科,胃胀,胃胀怎么办？,少吃\r\n"
    )
    (tmp_path / "a.gb18030.csv").write_bytes(text.encode("gb18030"))
    (tmp_path / "b.utf8.csv").write_bytes(text.encode("utf-8"))
    expected = [("我有高血压，\r\n能吃党参吗？", "心血管内科"), ("胃胀怎么办？", "消化内科")]
    assert load_cases(tmp_path) == expected
    assert load_cases(tmp_path, limit=1) == expected[:1]
