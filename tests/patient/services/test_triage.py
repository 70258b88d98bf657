"""Triage the way a triage nurse does it, on the starter knowledge base, without HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backend.core.config import Settings
from backend.core.knowledge.graph.departments import display_name
from backend.core.knowledge.graph.diseases import DiseaseRecord
from backend.core.knowledge.service import KnowledgeService
from backend.patient.services.triage import TriageResult, triage


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeService:
    service = KnowledgeService(Settings(data_dir=Path(tmp_path_factory.mktemp("kb"))), "test")
    asyncio.run(service.start())
    return service


def _triage(knowledge: KnowledgeService, complaint: str, **known: object) -> TriageResult:
    return asyncio.run(triage(knowledge, complaint, **known))  # type: ignore[arg-type]


def _departments(result: TriageResult) -> list[str]:
    return [d.name for d in result.departments]


@pytest.mark.parametrize(
    ("complaint", "expected", "never"),
    [
        ("月经推迟两周，小腹坠痛", {"妇科", "产科"}, {"口腔科"}),
        ("小腹坠痛", {"妇科", "消化内科", "普外科"}, {"儿科"}),
        ("孩子发烧39度，咳嗽", {"儿科"}, {"骨科"}),
        ("脸上长痘痘很多年了", {"皮肤科"}, set()),
        ("牙龈出血，刷牙的时候更明显", {"口腔科"}, set()),
        ("我想去割双眼皮，恢复要多久", {"医疗美容科"}, set()),
        ("想找中医调理一下气血，手脚冰凉", {"中医科"}, set()),
        ("包皮红肿，有点痒", {"男科"}, {"妇科"}),
        ("最近心情很低落，晚上睡不着", {"精神心理科"}, set()),
        ("每年春天一到就打喷嚏、流清鼻涕、眼睛痒", {"变态反应科", "耳鼻咽喉科"}, set()),
        ("My tooth hurts when I drink something cold", {"Stomatology (Dental)"}, set()),
    ],
)
def test_a_complaint_goes_where_a_triage_nurse_would_send_it(
    knowledge: KnowledgeService, complaint: str, expected: set[str], never: set[str]
) -> None:
    result = _triage(knowledge, complaint)
    names = _departments(result)
    shown = [display_name(name, result.language) for name in names]
    assert shown[0] in expected, shown
    assert not set(shown) & never
    assert result.weak is False


def test_who_comes_first_children_see_paediatrics_and_men_never_gynaecology(
    knowledge: KnowledgeService,
) -> None:
    assert _departments(_triage(knowledge, "我家宝宝5个月大，拉肚子两天"))[0] == "儿科"
    assert _departments(_triage(knowledge, "咳嗽，发热", age=4))[0] == "儿科"
    assert _departments(_triage(knowledge, "我14岁的儿子脸上老是冒痘痘"))[0] == "皮肤科"  # 14 is not a child
    man = _departments(_triage(knowledge, "下腹痛", sex="male"))
    assert not set(man) & {"妇科", "产科", "计划生育科"}
    assert "男科" not in _departments(_triage(knowledge, "下面潮湿瘙痒", sex="female"))
    assert "男科" not in _departments(_triage(knowledge, "尿频尿急，尿道口疼", sex="female"))


def test_a_possible_pregnancy_brings_obstetrics_in(knowledge: KnowledgeService) -> None:
    assert "产科" in _departments(_triage(knowledge, "怀孕12周，最近总是恶心想吐"))
    assert "产科" in _departments(_triage(knowledge, "恶心想吐，没有食欲", pregnant=True))


def test_each_step_is_explained_in_the_patients_language(knowledge: KnowledgeService) -> None:
    result = _triage(knowledge, "我25岁，女，最近脸上长痘痘")
    steps = {step.code: step.text for step in result.explanation}
    assert list(steps) == ["who", "where", "conditions", "model", "decision"]
    assert "25岁" in steps["who"]
    assert "女" in steps["who"]
    assert "皮肤" in steps["where"]
    assert "痘痘" in steps["where"]
    assert "皮肤科" in steps["decision"]
    english = _triage(knowledge, "I have had itchy red patches on my elbows for months")
    assert english.explanation[0].text.startswith("Patient:")
    assert "Dermatology" in english.explanation[-1].text


def test_scores_are_probabilities_and_a_weak_match_says_so(knowledge: KnowledgeService) -> None:
    clear = _triage(knowledge, "牙疼，牙龈肿了，吃东西更疼")
    vague = _triage(knowledge, "就是觉得身体不太对劲")
    assert 0 < sum(d.score for d in clear.departments) <= 1
    assert [d.score for d in clear.departments] == sorted((d.score for d in clear.departments), reverse=True)
    assert clear.departments[0].score > 0.5
    assert vague.weak is True
    # 全科医学科 first; an alternative only where the complaint's conditions pointed (躯体症状障碍 ...).
    assert _departments(vague)[0] == "全科医学科"
    assert len(vague.departments) <= 2
    assert vague.departments[0].score < clear.departments[0].score
    assert "全科医学科" in vague.advice


@pytest.mark.parametrize(
    "complaint", ["牙疼，牙龈肿了，吃东西更疼", "脸上长痘痘很多年了", "包皮红肿，有点痒"]
)
def test_general_practice_is_the_fallback_not_an_alternative(
    knowledge: KnowledgeService, complaint: str
) -> None:
    """Behind a specific department, 全科医学科 would only take the slot of the next likeliest one."""
    result = _triage(knowledge, complaint)
    assert result.weak is False
    assert "全科医学科" not in _departments(result)
    assert len(result.departments) == 3


@pytest.mark.parametrize(
    "complaint", ["😀😀😀", "没有不舒服", "a" * 1000, "发烧，不发烧", "头痛 headache 头痛"]
)
def test_odd_complaints_get_an_answer_not_an_error(knowledge: KnowledgeService, complaint: str) -> None:
    result = _triage(knowledge, complaint)
    assert result.departments
    assert result.explanation[-1].code == "decision"


def test_the_department_model_learns_from_records_a_hospital_imports(tmp_path: Path) -> None:
    """A hospital's own disease table teaches triage a department without any code change."""

    async def run() -> tuple[list[str], list[str]]:
        knowledge = KnowledgeService(Settings(data_dir=tmp_path), "test")
        await knowledge.start()
        complaint = "最近总觉得身上发飘，走路像踩在棉花上"
        before = _departments(await triage(knowledge, complaint))
        records = [
            DiseaseRecord(
                id=f"local-{number}",
                name=name,
                department="康复医学科",
                symptoms=["身上发飘", "走路像踩棉花", "步态不稳"],
                description=f"{name}：身上发飘，走路像踩在棉花上，由本院康复医学科平衡门诊诊治。",
            )
            for number, name in enumerate(["平衡障碍", "本体感觉减退", "前庭功能低下"])
        ]
        await asyncio.to_thread(knowledge.indexer.upsert, "hospital", [r.to_document() for r in records])
        await knowledge.refresh()
        after = _departments(await triage(knowledge, complaint))
        return before, after

    before, after = asyncio.run(run())
    assert "康复医学科" not in before[:1]
    assert after[0] == "康复医学科"
