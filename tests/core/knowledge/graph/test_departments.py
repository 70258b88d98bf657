"""The department taxonomy: the national list, and how imported tables' labels map onto it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.core.knowledge.graph.departments import departments, load_departments, to_taxonomy


def test_the_taxonomy_has_the_departments_patients_are_sent_to() -> None:
    names = {item.name for item in departments()}
    for expected in ("中医科", "医疗美容科", "口腔科", "精神心理科", "皮肤科", "妇科", "产科", "儿科", "男科",
                     "变态反应科", "骨科", "普外科", "心血管内科", "急诊科", "全科医学科"):  # fmt: skip
        assert expected in names
    assert all(item.name_en for item in departments())


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("内科 心内科", ("心血管内科",)),
        ("五官科、耳鼻喉科", ("耳鼻咽喉科",)),
        ("内科", ("全科医学科",)),
        ("外科", ("普外科",)),
        ("传染科 肝病", ("感染科",)),
        ("男科 生殖健康", ("男科",)),
        ("整形美容", ("医疗美容科",)),
        ("中医综合 针灸科", ("中医科",)),
        ("妇产科 产科", ("产科",)),
        ("儿科 皮肤科", ("儿科", "皮肤科")),
        ("营养学 [详细]", ()),
    ],
)
def test_imported_labels_map_onto_the_taxonomy(label: str, expected: tuple[str, ...]) -> None:
    assert to_taxonomy(label) == expected


def test_a_label_claimed_by_two_departments_is_refused(tmp_path: Path) -> None:
    rows = [
        {
            "code": "a",
            "nhc_code": "03",
            "name": "甲科",
            "name_en": "Ward A",
            "group": "内科",
            "aliases": ["同名"],
        },
        {
            "code": "b",
            "nhc_code": "04",
            "name": "乙科",
            "name_en": "Ward B",
            "group": "外科",
            "aliases": ["同名"],
        },
    ]
    path = tmp_path / "departments.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="同名"):
        load_departments(path)
