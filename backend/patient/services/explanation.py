"""The triage result's explanation: each step a triage nurse takes, in the patient's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from backend.core.knowledge.graph.departments import display_name
from backend.core.text import Language

if TYPE_CHECKING:  # the result type only; triage imports this module
    from backend.patient.services.triage import TriageResult

StepCode = Literal["red_flags", "who", "where", "conditions", "model", "decision"]
MODEL_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Step:
    code: StepCode
    text: str


_GROUP = {
    "zh": {"infant": "婴儿", "child": "儿童", "adult": "成人", "elderly": "老年人"},
    "en": {"infant": "infant", "child": "child", "adult": "adult", "elderly": "older adult"},
}
_SEX = {"zh": {"male": "男", "female": "女"}, "en": {"male": "male", "female": "female"}}


def _age(age: float, language: Language) -> str:
    if age < 1:
        months = max(1, round(age * 12))
        return f"{months}个月" if language == "zh" else f"{months} months"
    shown = f"{age:g}"
    return f"{shown}岁" if language == "zh" else f"{shown} years"


def _who(result: TriageResult, language: Language) -> str:
    who, zh = result.who, language == "zh"
    parts = []
    if who.age is not None:
        parts.append(_age(who.age, language))
    if who.age_group is not None:
        parts.append(_GROUP[language][who.age_group])
    if who.sex is not None:
        parts.append(_SEX[language][who.sex])
    if who.pregnant:
        parts.append("怀孕或可能怀孕" if zh else "pregnant or possibly pregnant")
    if who.subject != "self":
        parts.append(
            ("家长代孩子咨询" if who.subject == "child" else "家属代为咨询")
            if zh
            else ("a parent asking for a child" if who.subject == "child" else "asking for a relative")
        )
    if not parts:
        return "描述中没有年龄、性别信息" if zh else "no age or sex given"
    return ("、" if zh else ", ").join(parts)


def steps(result: TriageResult, predicted: dict[str, float], language: Language) -> list[Step]:
    zh = language == "zh"
    join = "、" if zh else ", "
    found: list[Step] = []
    if result.red_flags:
        names = join.join(flag.name if zh else flag.name_en for flag in result.red_flags)
        found.append(
            Step(
                "red_flags",
                f"危险信号：{names}，需要立即急诊" if zh else f"Red flags: {names}: emergency care now",
            )
        )
    found.append(Step("who", ("患者：" if zh else "Patient: ") + _who(result, language)))
    if result.areas:
        areas = join.join(
            f"{hit.area.name}（{'、'.join(hit.terms)}）"
            if zh
            else f"{hit.area.name_en} ({', '.join(hit.terms)})"
            for hit in result.areas
        )
        found.append(Step("where", ("部位与需求：" if zh else "Where and what: ") + areas))
    else:
        found.append(
            Step("where", "没有识别出具体部位或系统" if zh else "No body site or organ system recognised")
        )
    if result.possible_conditions:
        conditions = join.join(c.name for c in result.possible_conditions)
        found.append(Step("conditions", ("可能相关的情况：" if zh else "Conditions that fit: ") + conditions))
    else:
        found.append(
            Step(
                "conditions",
                "知识库中没有与描述相符的疾病"
                if zh
                else "Nothing in the knowledge base matches the description",
            )
        )
    if predicted:
        best = sorted(predicted.items(), key=lambda item: -item[1])[:MODEL_SHOWN]
        model = join.join(f"{display_name(name, language)} {p:.0%}" for name, p in best)
        found.append(
            Step("model", ("知识库科室模型：" if zh else "Department model of the knowledge base: ") + model)
        )
    top = result.departments[0]
    name = display_name(top.name, language)
    if result.weak:
        text = (
            f"各项信息都不足以确定科室（匹配较弱），建议先到{name}"
            if zh
            else f"Nothing points clearly to one department (a weak match): start with {name}"
        )
    else:
        text = f"建议就诊：{name}（{top.score:.0%}）" if zh else f"Suggested: {name} ({top.score:.0%})"
    found.append(Step("decision", text))
    return found
