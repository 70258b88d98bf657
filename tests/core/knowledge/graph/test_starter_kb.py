"""The starter knowledge base that ships with the product is complete, consistent and dose-free."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STARTER = Path(__file__).resolve().parents[4] / "backend" / "core" / "knowledge" / "starter"
LIST_FIELDS = (
    "aliases", "symptoms", "symptoms_en", "causes", "checks", "treatment", "drugs",
    "prevention", "complications", "red_flags", "foods_recommended", "foods_avoid",
)  # fmt: skip
OPTIONAL_LIST_FIELDS = ("questions",)
TEXT_FIELDS = ("id", "name", "name_en", "department", "description", "description_en", "susceptible",
               "course", "cure_rate")  # fmt: skip
DOSE = re.compile(r"\d+(\.\d+)?\s*(mg|毫克|克|g\b|ml|毫升|片|粒|μg|ug|IU|单位|次/日|次/天)", re.IGNORECASE)


def _conditions() -> list[dict[str, object]]:
    rows = []
    for path in sorted(STARTER.glob("conditions_*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                row["_where"] = f"{path.name}:{number}"
                rows.append(row)
    return rows


CONDITIONS = _conditions()
DEPARTMENTS = {d["name"] for d in json.loads((STARTER / "departments.json").read_text(encoding="utf-8"))}


def test_at_least_150_conditions_with_unique_ids_and_names() -> None:
    assert len(CONDITIONS) >= 150
    ids = [c["id"] for c in CONDITIONS]
    names = [c["name"] for c in CONDITIONS]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)


def test_every_major_department_is_covered() -> None:
    covered = {c["department"] for c in CONDITIONS}
    assert covered <= DEPARTMENTS
    assert len(covered) >= 25


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: str(c["id"]))
def test_condition_is_complete(condition: dict[str, object]) -> None:
    for field in TEXT_FIELDS:
        assert isinstance(condition[field], str), field
        assert condition[field], field
    for field in LIST_FIELDS + tuple(f for f in OPTIONAL_LIST_FIELDS if f in condition):
        value = condition[field]
        assert isinstance(value, list), field
        assert all(isinstance(v, str) and v for v in value), field
    for field in ("aliases", "symptoms", "causes", "checks", "treatment", "prevention", "red_flags"):
        assert condition[field], f"{field} is empty"
    assert len(condition["symptoms"]) == len(condition["symptoms_en"])  # type: ignore[arg-type]
    assert isinstance(condition["contagious"], bool)


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: str(c["id"]))
def test_no_drug_doses_anywhere(condition: dict[str, object]) -> None:
    text = json.dumps({k: v for k, v in condition.items() if k != "_where"}, ensure_ascii=False)
    assert not DOSE.search(text), f"{condition['_where']}: {DOSE.search(text)}"
