"""Question intents: which graph facts a medical question asks for, from keywords and entity types.

Keywords say what is asked (symptoms, causes, drugs...); the types of the entities found say in which
direction (a disease's symptoms, or the diseases with a symptom). Chinese and English keywords are
checked on every question, since questions mix them ("COPD 吃什么药").

Entity surfaces are blanked out before keywords are matched, so a keyword inside a name (药 in
药物性肝炎, 食物 in 食物中毒) does not count. Some cues consume what they match, so a later, more
general cue does not fire on the same words: 不能吃 is food to avoid, not also food to eat; 多久能好
is the course, not the cure rate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal, get_args

from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.knowledge.graph.graph import fold_width

Intent = Literal[
    "disease_symptom", "symptom_disease", "disease_cause", "disease_complication",
    "disease_food_recommended", "disease_food_avoid", "disease_drug", "drug_disease", "disease_check",
    "check_disease", "disease_prevention", "disease_course", "disease_treatment", "disease_cure_rate",
    "disease_susceptible", "disease_description", "disease_department",
]  # fmt: skip
INTENTS: Final[tuple[Intent, ...]] = get_args(Intent)

Cue = Literal[
    "disease_query", "cause", "complication", "food_ask", "food_avoid", "food", "food_weak", "drug",
    "drug_use", "check", "check_find", "prevention", "course", "cure_rate", "treatment", "susceptible",
    "description", "description_weak", "department", "symptom",
]  # fmt: skip

# Stands for an entity's surface: not a word character, so English \b still works around it.
_MASK: Final = "\ue000"
_E: Final = f"{_MASK}+"


def _en(pattern: str) -> str:
    return rf"\b(?:{pattern})\b"


# (cue, pattern, consumes). Order matters where a cue consumes: a specific phrasing is taken before a
# general one can claim its words. English patterns run on the lower-cased question.
_CUES: Final[tuple[tuple[Cue, str, bool], ...]] = (
    # Which disease is it (for symptoms, drugs, checks).
    (
        "disease_query",
        r"什么病|哪些病|哪种病|啥病|何病|什么疾病|哪些疾病|哪种疾病|什么毛病|啥毛病|是不是.{0,6}病|得了什么|患了什么"
        r"|可能是什么|会是什么|怎么回事|咋回事",
        False,
    ),
    (
        "disease_query",
        _en(
            r"what (?:disease|illness|condition|sickness)s?|which (?:disease|illness|condition)s?"
            r"|what could (?:it|this|that) be|what(?:'s| is) wrong|do i have|could (?:it|this|i) (?:be|have)"
            r"|might (?:it|i) (?:be|have)|what (?:do|might|could) i have|sign of what|symptom of what"
        ),
        False,
    ),
    # "多久能好" asks how long, not whether it can be cured.
    (
        "course",
        r"(?:多久|多长时间|多少天|几天|几周|几个星期|几个月|几年|多少时间|什么时候)(?:才)?(?:能|会|可以)?"
        r"(?:好|痊愈|康复|恢复)?|周期|病程|多长|持续时间",
        True,
    ),
    (
        "course",
        _en(
            r"how long|duration|how many (?:days|weeks|months|years)|recovery time|course of"
            r"|when will .{0,40}(?:go away|get better|clear up|resolve|end)|timeline"
        ),
        True,
    ),
    # "什么导致X" and "X是什么引起的" ask for causes; "X会导致什么" asks for complications (below).
    (
        "cause",
        r"什么(?:原因|因素|东西)?(?:会)?(?:导致|引起|造成|诱发|引发)|(?:导致|引起|造成|诱发)(?:的|了)?(?:原因|因素)"
        r"|由.{0,6}(?:引起|导致|造成)|是.{0,6}(?:引起|导致|造成)的|原因|病因|诱因|成因|为什么|为何|为啥|怎么会|咋会"
        r"|怎么得|怎么引起|怎么来的|怎么患上",
        True,
    ),
    # "What can diabetes cause?" asks for complications, and must be taken before "cause" below.
    (
        "complication",
        rf"\b(?:can|could|does|do|may|might|will) {_E}\s+(?:\w+\s+)?cause\b"
        rf"|\bwhat (?:can|does|will) {_E} (?:do|lead)\b",
        True,
    ),
    (
        "cause",
        _en(
            r"what (?:causes|caused|leads to|triggers|brings on)|causes? of|caused by|cause(?:s|d)?"
            r"|why|reasons? (?:for|of|why)|risk factors?|etiology|aetiology|triggers?"
            r"|how do(?:es)? (?:you|one|people|someone|i) (?:get|catch|develop|contract)"
        ),
        True,
    ),
    (
        "complication",
        r"并发症|并发|合并症|后遗症|伴发|(?:会|能|可能|容易|可以)(?:导致|引起|造成|诱发|引发|发展成|变成|演变成|转变成|转成)"
        r"|(?:导致|引起|造成|引发)(?:什么|哪些|啥)|有什么(?:危害|后果|影响)|危害|后果",
        True,
    ),
    (
        "complication",
        _en(
            r"complications?|lead to|leads to|result in|results in|consequences?"
            r"|long[- ]term effects?|develop into|turn into|progress to|dangers? of|risks of"
            r"|if (?:left )?untreated"
        ),
        True,
    ),
    # "能不能吃X" / "can I eat X": whether X is fine, so both lists answer it (taken before 不能吃 below).
    (
        "food_ask",
        r"(?:能否|能|可以)(?:吃|喝)(?:(?!什么|啥|哪)[^，,。？?！!]){0,8}(?:吗|嘛|(?<!什)么)|能不能(?:吃|喝)"
        r"|可不可以(?:吃|喝)",
        True,
    ),
    (
        "food_ask",
        _en(
            # "What can I eat?" asks for a list, "Can I eat eggs?" whether they are fine.
            r"(?<!what )(?<!which )(?:can|should) i (?:eat|drink|have)"
            r"|is it (?:ok|okay|safe|fine|bad) to (?:eat|drink)"
        ),
        True,
    ),
    # Food to avoid before food in general: 不能吃 contains 能吃.
    (
        "food_avoid",
        r"不能吃|不可以吃|不能喝|不可以喝|不宜吃|不宜食|不宜喝|不要吃|不该吃|不应该吃|不适合吃|别吃|少吃|忌吃|忌口|忌食"
        r"|忌讳|饮食禁忌|禁忌(?:食物|饮食)|吃.{0,3}禁忌|避免吃|避免食用|戒口|吃什么不好|哪些.{0,4}不能吃|不能碰",
        True,
    ),
    (
        "food_avoid",
        _en(
            r"(?:avoid|stay away from|cut out|not eat|n't eat|never eat|not drink|n't drink|limit|restrict"
            r"|bad|worst|harmful)\b.{0,30}\b(?:foods?|eat|eating|drinks?|drinking|diet)"
            r"|(?:foods?|eat|eating|drinks?|diet)\b.{0,30}\b(?:avoid|to avoid|not|n't|bad|worst|harmful)"
        ),
        True,
    ),
    (
        "food",
        r"饮食|食物|食品|食谱|菜谱|膳食|宜吃|宜食|适合吃|多吃|补品|营养|食疗|吃什么好|吃哪些好|喝什么好|吃什么比较好",
        True,
    ),
    (
        "food",
        _en(r"foods?|diet(?:ary)?|nutrition|meals?|what (?:should|can|to) (?:i )?eat|good to eat"),
        True,
    ),
    ("food_weak", r"吃什么|吃啥|吃哪些|能吃|可以吃|喝什么|吃点|喝点|吃些", False),
    ("food_weak", _en(r"eat|eating|drink"), False),
    # Before the disease-side cure cues: "阿司匹林能治什么" is what the drug treats.
    (
        "drug_use",
        r"治什么|治疗什么|治啥|治哪些|治疗哪些|主治|适应症|适应证|用途|作用|功效|用于|能治|可以治|可治|管什么|有什么用"
        r"|干什么用|干嘛用|什么用",
        False,
    ),
    (
        "drug_use",
        _en(
            r"used for|used to treat|what (?:is|are) .{0,40}\bfor|what does .{0,40}\btreat"
            r"|treats?|indications?|good for|effective for|work for|help with"
        ),
        False,
    ),
    (
        "cure_rate",
        r"治愈率|治愈|治好|治得好|治的好|根治|痊愈|能好吗|会好吗|能不能好|好得了|康复(?:率|几率|概率|的可能)|几率|概率|可能性"
        r"|能活|存活率|生存率|预后|能治吗|能不能治|可以治吗|能治不|有救|有得治|能彻底",
        True,
    ),
    (
        "cure_rate",
        _en(
            r"cure rate|curable|incurable|be cured|cured|is there a cure|prognosis|survival"
            r"|chances? of (?:recovery|survival|being cured)|recovery rate|fully recover"
            r"|go away (?:completely|for good)"
            r"|outlook|fatal|deadly"
        ),
        True,
    ),
    ("drug", r"药|处方|胶囊|片剂|输液|打针", False),
    (
        "drug",
        _en(
            r"drugs?|medications?|medicines?|meds|pills?|tablets?|prescriptions?|antibiotics?"
            r"|what (?:should|can|do) i take|what to take"
        ),
        False,
    ),
    (
        "check_find",
        r"查什么|检查什么|能查出|查出|可以查|能查|检测什么|诊断什么|查哪些|用来查|看什么病",
        False,
    ),
    (
        "check_find",
        _en(
            r"what (?:does|can|will|do) .{0,40}\b"
            r"(?:detect|show|find|diagnose|reveal|check for|test for|look for)"
            r"|detects?|used to (?:diagnose|detect)|checks? for|tests? for what"
        ),
        False,
    ),
    ("check", r"检查|化验|检验|检测|要查|怎么查|诊断|确诊|筛查|体检|拍片|影像|做什么检", False),
    (
        "check",
        _en(
            r"tests?|testing|exams?|examinations?|checks?|check[- ]ups?|screening|diagnos(?:e|ed|is|tic)"
            r"|scans?|imaging|lab work|blood work|work-?up"
        ),
        False,
    ),
    ("prevention", r"预防|防止|避免|防范|怎么防|如何防|怎样防|才能不|才不会|防治|杜绝|不被传染|疫苗", False),
    (
        "prevention",
        _en(
            r"prevent(?:ion|ing|ed|s|ive)?|avoid (?:getting|catching|developing)|reduce (?:the|my|your) risk"
            r"|lower (?:the|my|your) risk|protect (?:myself|yourself|against|from)|keep from getting"
            r"|vaccin\w*"
        ),
        False,
    ),
    (
        "treatment",
        r"怎么治|如何治|怎样治|咋治|治疗|疗法|治法|医治|怎么办|咋办|怎么处理|如何处理|怎么调理|如何调理|调理|手术|怎么缓解"
        r"|如何缓解|缓解|疗程|理疗|怎么医|防治|怎么才能好|怎样才能好|如何才能好",
        False,
    ),
    (
        "treatment",
        _en(
            r"treat(?:ment|ments|ed|ing)?|therapy|therapies|manage(?:ment)?|remed(?:y|ies)|relieve|relief"
            r"|surgery|operation|how (?:to|do|can|should) (?:i |you |we )?(?:deal|cope|handle|fix|get rid)"
            r"|what (?:should|can) i do|what to do"
        ),
        False,
    ),
    (
        "susceptible",
        r"什么人|哪些人|哪类人|什么样的人|谁(?:容易|会|最容易)|易感|易发|好发|高发|容易(?:得|患|感染|发生|发病)|多发|人群"
        r"|高危|多见于|会不会得|年龄段|会遗传|遗传吗",
        False,
    ),
    (
        "susceptible",
        _en(
            r"who (?:gets|is|are|can get|is at risk|is likely|is most likely|usually gets)"
            r"|at risk|risk groups?"
            r"|susceptible|prone|more (?:common|likely) in|which (?:people|groups?|age)|what age"
            r"|(?:common|likely) among|high[- ]risk"
        ),
        False,
    ),
    # Asked for in so many words: an overview even beside other intents.
    ("description", r"什么(?:是|叫)|介绍|简介|概述|科普|了解一下|讲讲|说说|定义", False),
    (
        "description",
        _en(
            r"tell me about|overview|explain|defin(?:e|ition)|meaning of|information (?:on|about)"
            r"|what kind of (?:disease|illness|condition)"
        ),
        False,
    ),
    # "X是什么(病)" / "what is X?": an overview when nothing else is asked. ("X的症状是什么" ends alike, but
    # the entity is not right before 是什么.)
    (
        "description_weak",
        rf"(?:是|叫)(?:什么|啥)(?:病|疾病|意思|东西)|{_E}(?:是|是种|是一种)?(?:什么|啥)[?？。!！]*$"
        r"|是怎样的病|是怎么样的病|是一种什么",
        False,
    ),
    (
        "description_weak",
        rf"\bwhat(?:\s+is|\s+are|'s)\s+(?:an?\s+|the\s+)?{_E}(?=\s*(?:[?.!,]|$|\band\b))",
        False,
    ),
    (
        "department",
        r"挂什么科|挂哪个科|挂号|哪个科|什么科|哪科|科室|看什么科|去哪看|去哪里看|看哪个医生|找什么医生|哪个医生|就诊|看医生"
        r"|哪个医院",
        False,
    ),
    (
        "department",
        _en(
            r"departments?|which doctor|what (?:kind of |type of )?doctor|(?:what|which) specialist"
            r"|specialists?|who (?:should|do) i see|see a doctor|where (?:should|do) i go|clinic"
        ),
        False,
    ),
    ("symptom", r"症状|表现|征兆|迹象|症候|体征|什么感觉|有什么反应|会怎样|会怎么样|特征|前兆|先兆", False),
    (
        "symptom",
        _en(r"symptoms?|signs?|manifestations?|presentation|feel like|how do i know (?:if|whether) i have"),
        False,
    ),
)
_COMPILED: Final = tuple((cue, re.compile(pattern), consumes) for cue, pattern, consumes in _CUES)

# Disease-directed intents, by the cue that asks for them.
_DISEASE_INTENT: Final[dict[Cue, Intent]] = {
    "symptom": "disease_symptom",
    "cause": "disease_cause",
    "complication": "disease_complication",
    "food_avoid": "disease_food_avoid",
    "food": "disease_food_recommended",
    "drug": "disease_drug",
    "check": "disease_check",
    "prevention": "disease_prevention",
    "course": "disease_course",
    "treatment": "disease_treatment",
    "cure_rate": "disease_cure_rate",
    "susceptible": "disease_susceptible",
    "description": "disease_description",
    "department": "disease_department",
}


def _masked(question: str, entities: Sequence[ExtractedEntity]) -> str:
    chars = list(question)
    for entity in entities:
        # Entities from another text (or stale offsets) are ignored rather than blanking random words.
        if (
            0 <= entity.start < entity.end <= len(chars)
            and question[entity.start : entity.end] == entity.surface
        ):
            chars[entity.start : entity.end] = _MASK * (entity.end - entity.start)
    # Full-width "ｗｈａｔ ｉｓ" from a Chinese input method reads as "what is".
    return fold_width("".join(chars)).lower()


def cues(question: str, entities: Sequence[ExtractedEntity] = ()) -> set[Cue]:
    """The keyword cues a question carries, entity names blanked out."""
    text = _masked(question, entities)
    found: set[Cue] = set()
    for cue, pattern, consumes in _COMPILED:
        if consumes:
            text, count = pattern.subn(lambda m: " " * len(m.group()), text)
            if count:
                found.add(cue)
        elif pattern.search(text):
            found.add(cue)
    return found


def classify_intents(question: str, entities: Sequence[ExtractedEntity]) -> list[str]:
    """The intents of a question, in the order of INTENTS, without duplicates."""
    found = cues(question, entities)
    types = {e.type for e in entities}
    has_disease = "disease" in types
    has_drug = "drug" in types
    has_check = "check" in types
    intents: set[Intent] = set()

    # Plain "吃什么" / "eat" also starts "吃什么药": it means food only when nothing speaks of medicine.
    if not (found & {"drug", "drug_use"} or has_drug):
        if "food_weak" in found:
            found.add("food")
        if "food_ask" in found:
            found.update(("food", "food_avoid"))
    if has_disease:
        intents.update(intent for cue, intent in _DISEASE_INTENT.items() if cue in found)
        # A named drug, check or department with a disease asks about that pair ("高血压能用阿司匹林吗").
        if has_drug:
            intents.add("disease_drug")
        if has_check or "check_find" in found:  # "冠心病查什么": what to check for it
            intents.add("disease_check")
        if "department" in types:
            intents.add("disease_department")
        # "能吃X吗" about a named food: the answer is in both lists.
        if "food" in types and found & {"food", "food_avoid", "food_weak", "food_ask"}:
            intents.update(("disease_food_recommended", "disease_food_avoid"))
    # Without a named disease, a symptom asks which diseases it belongs to, a drug what it treats, a
    # check what it finds.
    if "symptom" in types and (not has_disease or "disease_query" in found):
        intents.add("symptom_disease")
    if has_drug and (not has_disease or found & {"drug_use", "disease_query"}):
        intents.add("drug_disease")
    if has_check and (not has_disease or found & {"check_find", "disease_query"}):
        intents.add("check_disease")
    if has_disease and not intents:
        # Nothing else asked ("高血压？", "what is gout?"): what the disease is.
        intents.add("disease_description")
    return [intent for intent in INTENTS if intent in intents]
