"""The department taxonomy: the standard Chinese hospital departments triage answers with.

One list (starter/departments.json) that every service shares. Imported tables name departments
their own way ("内科  心内科", "五官科  耳鼻喉科", "传染科"); `to_taxonomy` maps such a label onto the
taxonomy so that triage can count on one set of names.
"""

from __future__ import annotations

import json
from functools import lru_cache

from pydantic import BaseModel

from backend.core.knowledge.graph.diseases import STARTER_DIR


class Department(BaseModel):
    code: str
    name: str
    name_en: str
    group: str


# Common names of the same departments in hospitals and public data sets -> taxonomy name.
_SYNONYMS = {
    "心内科": "心血管内科",
    "心血管科": "心血管内科",
    "呼吸科": "呼吸内科",
    "消化科": "消化内科",
    "胃肠内科": "消化内科",
    "神经科": "神经内科",
    "内分泌": "内分泌科",
    "肾病科": "肾内科",
    "风湿科": "风湿免疫科",
    "免疫科": "风湿免疫科",
    "传染科": "感染科",
    "肝病科": "感染科",
    "肝病": "感染科",
    "普通外科": "普外科",
    "胃肠外科": "普外科",
    "肝胆外科": "普外科",
    "血管外科": "普外科",
    "骨外科": "骨科",
    "男科": "泌尿外科",
    "脑外科": "神经外科",
    "胸外科": "心胸外科",
    "乳腺科": "乳腺外科",
    "妇产科": "妇科",
    "小儿内科": "儿科",
    "小儿外科": "儿科",
    "儿科综合": "儿科",
    "新生儿科": "儿科",
    "皮肤性病科": "皮肤科",
    "性病科": "皮肤科",
    "耳鼻喉科": "耳鼻咽喉科",
    "五官科": "耳鼻咽喉科",
    "口腔颌面外科": "口腔科",
    "精神科": "精神心理科",
    "心理科": "精神心理科",
    "心理咨询": "精神心理科",
    "肿瘤内科": "肿瘤科",
    "肿瘤外科": "肿瘤科",
    "康复科": "康复医学科",
    "全科": "全科医学科",
    "内科": "全科医学科",
    "外科": "普外科",
}


@lru_cache(maxsize=1)
def departments() -> tuple[Department, ...]:
    rows = json.loads((STARTER_DIR / "departments.json").read_text(encoding="utf-8"))
    return tuple(Department.model_validate(row) for row in rows)


@lru_cache(maxsize=1)
def _by_name() -> dict[str, Department]:
    return {department.name: department for department in departments()}


def department(name: str) -> Department | None:
    return _by_name().get(name)


@lru_cache(maxsize=4096)
def to_taxonomy(label: str) -> tuple[str, ...]:
    """The taxonomy departments a free-form label names, most specific first ("" parts ignored).

    "内科  心内科" -> ("心血管内科",): a specific part wins over its generic group ("内科").
    """
    names: list[str] = []
    generic: list[str] = []
    for part in label.replace("，", " ").replace(",", " ").replace("/", " ").split():
        name = part if part in _by_name() else _SYNONYMS.get(part)
        if name is None:
            continue
        target = generic if part in {"内科", "五官科", "外科", "全科"} else names
        if name not in target:
            target.append(name)
    return tuple(names) or tuple(generic[:1])
