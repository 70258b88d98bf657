"""A disease record: the structured form behind the `diseases` store and the knowledge graph.

The starter knowledge base (starter/conditions_*.jsonl) is written in this shape, and importers of
structured disease tables (e.g. the 39健康网 table) map their columns onto it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.core.knowledge.store.documents import Document

STARTER_DIR = Path(__file__).resolve().parents[1] / "starter"

LIST_FIELDS = (
    "aliases", "symptoms", "symptoms_en", "causes", "checks", "treatment", "drugs", "prevention",
    "complications", "red_flags", "foods_recommended", "foods_avoid",
)  # fmt: skip

# Section headings of the rendered text, in reading order.
SECTIONS = (
    ("description", "概述"),
    ("symptoms", "症状"),
    ("causes", "病因"),
    ("susceptible", "易感人群"),
    ("checks", "检查"),
    ("treatment", "治疗"),
    ("drugs", "常用药物"),
    ("prevention", "预防"),
    ("complications", "并发症"),
    ("red_flags", "需立即就医的情况"),
    ("foods_recommended", "宜吃"),
    ("foods_avoid", "忌吃"),
    ("course", "病程"),
    ("cure_rate", "治愈情况"),
    ("description_en", "English"),
)


class DiseaseRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str = Field(min_length=1)
    name_en: str = ""
    aliases: list[str] = []
    department: str = ""
    description: str = ""
    description_en: str = ""
    symptoms: list[str] = []
    symptoms_en: list[str] = []
    causes: list[str] = []
    susceptible: str = ""
    checks: list[str] = []
    treatment: list[str] = []
    drugs: list[str] = []
    prevention: list[str] = []
    complications: list[str] = []
    red_flags: list[str] = []
    foods_recommended: list[str] = []
    foods_avoid: list[str] = []
    course: str = ""
    cure_rate: str = ""
    contagious: bool | None = None
    # How patients ask about it, in their own words ("脸上老长痘怎么办"): not shown as evidence (a
    # question answers nothing), but what triage's department model learns patients' wording from.
    questions: list[str] = []

    def to_document(self) -> Document:
        """The record as a document: one "heading：text" line per field, which chunk_document cuts
        into one passage per field (the metadata carries the whole record, stored once per store)."""
        title = f"{self.name}（{self.name_en}）" if self.name_en else self.name
        lines = [title]
        if self.aliases:
            lines.append(f"别名：{'、'.join(self.aliases)}")
        if self.department:
            lines.append(f"就诊科室：{self.department}")
        for field, heading in SECTIONS:
            value = getattr(self, field)
            if field == "symptoms" and self.symptoms_en:
                value = [f"{zh}（{en}）" for zh, en in zip(self.symptoms, self.symptoms_en, strict=False)]
            if value:
                text = "；".join(value) if isinstance(value, list) else value
                lines.append(f"{heading}：{text}")
        metadata: dict[str, Any] = {"kind": "disease", **self.model_dump(exclude={"id"})}
        return Document(id=self.id, title=title, text="\n".join(lines), metadata=metadata)


def starter_diseases() -> Iterator[DiseaseRecord]:
    """The team-written starter conditions that ship with the package."""
    for path in sorted(STARTER_DIR.glob("conditions_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield DiseaseRecord.model_validate(json.loads(line))
