"""The reviewed everyday-word files (symptom_aliases*.json) agree with the starter records.

A word listed under a symptom the records do not have is dead; a word listed under two symptoms cannot
be resolved; a word that is also a disease's name or alias never reaches its symptom, because the
extractor prefers the disease for the same span.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.core.knowledge.graph.diseases import starter_diseases
from backend.core.knowledge.graph.entities import EntityExtractor
from backend.core.knowledge.graph.graph import KnowledgeGraph, name_key

STARTER = Path(__file__).resolve().parents[4] / "backend" / "core" / "knowledge" / "starter"
RECORDS = list(starter_diseases())


def _alias_files() -> list[tuple[str, dict[str, list[str]]]]:
    files = []
    for path in sorted(STARTER.glob("symptom_aliases*.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))
        files.append((path.name, {name: words for name, words in rows.items() if not name.startswith("_")}))
    return files


ALIAS_FILES = _alias_files()


@pytest.mark.parametrize(("file", "rows"), ALIAS_FILES, ids=[name for name, _ in ALIAS_FILES])
def test_every_canonical_name_is_a_symptom_of_the_records(file: str, rows: dict[str, list[str]]) -> None:
    symptoms = {name_key(symptom) for record in RECORDS for symptom in record.symptoms}
    missing = [name for name in rows if name_key(name) not in symptoms]
    assert not missing, f"{file}: not a symptom of any starter record: {missing}"
    for name, words in rows.items():
        assert isinstance(words, list), name
        assert words, name
        assert all(isinstance(word, str) and word.strip() for word in words), name


def test_no_everyday_word_names_two_symptoms() -> None:
    owner: dict[str, str] = {}
    clashes = []
    for _, rows in ALIAS_FILES:
        for name, words in rows.items():
            for word in words:
                if owner.setdefault(name_key(word), name) != name:
                    clashes.append((word, owner[name_key(word)], name))
    assert not clashes


def test_no_everyday_word_is_a_disease_name_or_alias() -> None:
    diseases = {
        name_key(form): record.name
        for record in RECORDS
        for form in (record.name, record.name_en, *record.aliases)
        if form.strip()
    }
    taken = [
        (word, name, diseases[name_key(word)])
        for _, rows in ALIAS_FILES
        for name, words in rows.items()
        for word in words
        if name_key(word) in diseases
    ]
    assert not taken


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor.build(KnowledgeGraph.build(RECORDS))


@pytest.mark.parametrize(
    ("complaint", "symptoms"),
    [
        ("大姨妈推迟了十天，小肚子坠胀", ["月经推迟", "下腹坠胀"]),
        ("宝宝吐奶，肚脐流水", ["喂奶后吐奶", "脐部渗液"]),
        ("孩子咳嗽像狗叫，吸气时有响声", ["犬吠样咳嗽", "吸气性喉鸣"]),
        ("脚后跟疼，早上下地脚疼", ["足跟痛", "晨起第一步疼痛"]),
        ("孕32周，肚子一阵阵发紧，阴道流水", ["宫缩", "阴道流液"]),
        # The everyday word holds its span: 舌头疼 is not 头疼 (a headache), 屁眼痒 is not 眼痒.
        ("舌头疼，吃饭更疼", ["舌头疼痛"]),
        ("屁眼痒，晚上更厉害", ["肛门瘙痒"]),
    ],
)
def test_everyday_words_reach_the_symptom_they_mean(
    extractor: EntityExtractor, complaint: str, symptoms: list[str]
) -> None:
    found = [entity.name for entity in extractor.extract(complaint) if entity.type == "symptom"]
    assert found == symptoms
