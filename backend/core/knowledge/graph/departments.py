"""The department taxonomy: the clinical departments triage answers with and the inbox filters by.

One reviewed list, starter/departments.json, that every service shares. It follows China's national
list of clinical subjects (医疗机构诊疗科目名录): each department carries the code of the subject it is
registered under (`nhc_code`, e.g. "03.09" 变态反应专业 for 变态反应科), plus the departments hospitals
run under a subject without a code of their own (男科 under 泌尿外科, 肛肠科 and 乳腺外科 under 普通外科).

How an imported table's department names map onto it (`to_taxonomy`):
- a cell may name several departments ("内科 消化内科", "五官科、耳鼻喉科"): it is split at spaces,
  commas, 、 and slashes, and each part is looked up;
- a part that is a taxonomy name maps to itself; a part listed among a department's `aliases` (the
  names other hospitals and data sets use: 心内科, 传染科, 整形美容, 中医综合 ...) maps to that
  department; anything else is ignored;
- a specific part wins over a generic group name ("内科 心内科" -> 心血管内科; "内科" alone ->
  全科医学科, "外科" alone -> 普外科, "五官科" alone -> 耳鼻咽喉科).
A hospital adds its own names by adding aliases to the file; `load_departments` refuses a file in
which a name or alias is claimed twice.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from backend.core.knowledge.graph.diseases import STARTER_DIR
from backend.core.text import Language

# Group-level names: they only count when a cell names nothing more specific.
GENERIC_LABELS = frozenset({"内科", "外科", "五官科", "全科", "妇产科", "中医综合", "其他科室", "其他综合"})


class Department(BaseModel):
    code: str = Field(pattern=r"^[a-z_]+$")
    nhc_code: str = Field(pattern=r"^(\d{2}(\.\d{2})?)?$", description="National subject code; empty if none")
    name: str = Field(min_length=2)
    name_en: str = Field(min_length=2)
    group: str
    aliases: list[str] = []


def load_departments(path: Path) -> tuple[Department, ...]:
    """The taxonomy in `path`, validated: every name and alias names one department only."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    found = tuple(Department.model_validate(row) for row in rows)
    owner: dict[str, str] = {}
    for item in found:
        for label in (item.name, *item.aliases):
            if owner.setdefault(label, item.name) != item.name:
                raise ValueError(f"{path.name}: {label!r} names both {owner[label]} and {item.name}")
        if owner.get(item.code, item.name) != item.name:
            raise ValueError(f"{path.name}: code {item.code!r} is used twice")
        owner[item.code] = item.name
    return found


@lru_cache(maxsize=1)
def departments() -> tuple[Department, ...]:
    return load_departments(STARTER_DIR / "departments.json")


@lru_cache(maxsize=1)
def _by_name() -> dict[str, Department]:
    return {department.name: department for department in departments()}


@lru_cache(maxsize=1)
def _by_label() -> dict[str, str]:
    return {label: item.name for item in departments() for label in (item.name, *item.aliases)}


def department(name: str) -> Department | None:
    return _by_name().get(name)


def display_name(name: str, language: Language) -> str:
    """A taxonomy department's name in the patient's language."""
    found = _by_name().get(name)
    return found.name_en if language == "en" and found is not None else name


@lru_cache(maxsize=4096)
def to_taxonomy(label: str) -> tuple[str, ...]:
    """The taxonomy departments a free-form label names, most specific first ("" parts ignored).

    "内科  心内科" -> ("心血管内科",): a specific part wins over its generic group ("内科").
    """
    names: list[str] = []
    generic: list[str] = []
    for part in label.replace("，", " ").replace(",", " ").replace("、", " ").replace("/", " ").split():
        name = _by_label().get(part)
        if name is None:
            continue
        target = generic if part in GENERIC_LABELS else names
        if name not in target:
            target.append(name)
    return tuple(names) or tuple(generic[:1])
