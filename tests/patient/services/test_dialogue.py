"""The pre-consultation dialogue on the starter knowledge base, without HTTP: a dialogue that listens."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.core.config import Settings
from backend.core.knowledge.service import KnowledgeService
from backend.patient.services.dialogue import advance, new_state
from backend.patient.services.dialogue_rules import rules
from backend.patient.services.dialogue_state import QUESTION_SLOTS
from backend.patient.services.questions import MAX_SYMPTOM_QUESTIONS
from backend.patient.services.summary import doctor_summary

EMERGENCY_ZH = "您描述的情况可能危及生命"


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeService:
    service = KnowledgeService(Settings(data_dir=Path(tmp_path_factory.mktemp("kb"))), "test")
    asyncio.run(service.start())
    return service


class Chat:
    """One patient's session: what they said, what the assistant asked, at which stage."""

    def __init__(self, knowledge: KnowledgeService, language: str = "zh") -> None:
        self.knowledge = knowledge
        self.state = new_state("en" if language == "en" else "zh")
        self.replies: list[str] = []
        self.stages: list[str] = []

    def say(self, *messages: str) -> str:
        for text in messages:
            self.replies.append(asyncio.run(advance(self.state, text, self.knowledge)))
            self.stages.append(self.state["stage"])
        return self.replies[-1]

    def answer_until_done(self, answers: dict[str, str], limit: int = 20) -> None:
        """Answer each question by its stage (a stage without an answer: "没有")."""
        for _ in range(limit):
            if self.stage == "done":
                return
            self.say(answers.get(self.stage, "没有"))
        raise AssertionError(f"not done after {limit} answers: {self.stages}")

    @property
    def stage(self) -> str:
        return str(self.state["stage"])

    @property
    def collected(self) -> dict[str, Any]:
        collected: dict[str, Any] = self.state["collected"]
        return collected

    def summary(self) -> dict[str, Any]:
        return doctor_summary(self.state, lambda name: self.knowledge.graph.name_en("symptom", name))


def test_what_one_message_says_is_never_asked_for(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("我头痛三天了，挺严重的，35岁女，没有发烧")
    assert chat.stage == "symptoms"  # neither how long, how bad, nor age and sex
    chat.answer_until_done({"symptoms": "没有", "pregnancy": "没有", "history": "没有"})
    for slot in ("duration", "severity", "age", "sex", "chief_complaint"):
        assert chat.state["asked"].get(slot, 0) <= (1 if slot == "chief_complaint" else 0), slot
    assert not {"duration", "severity", "profile", "age", "sex"} & set(chat.stages)
    assert "发热" not in chat.state["asked_symptoms"]  # denied already: not asked about
    assert chat.collected["duration"] == {"text": "三天", "days": 3.0}
    assert chat.collected["severity"]["score"] == 7
    assert (chat.collected["age"], chat.collected["sex"]) == (35.0, "female")
    assert len(chat.stages) <= 1 + MAX_SYMPTOM_QUESTIONS + 2  # symptoms, pregnancy, history


def test_the_fixed_form_examples_of_the_issue_are_gone(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("我头痛三天了")
    assert chat.stage == "severity", "how long was already said"
    assert "持续多久" not in chat.replies[-1]
    chat.say("中等程度")
    assert chat.collected["severity"] == {"score": 5, "text": "中等"}
    assert chat.stage != "severity", "a word for how bad is an answer, no 1-10 question follows"
    chat = Chat(knowledge)
    chat.say("肚子疼", "35岁，女，两天了")  # given early, before being asked
    assert chat.collected["duration"]["days"] == 2.0
    chat.answer_until_done({"pregnancy": "没有", "history": "没有"})
    assert not {"profile", "age", "sex"} & set(chat.stages)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("有一点", True),
        ("好像有", True),
        ("偶尔会", True),
        ("经常", True),
        ("是的", True),
        ("对", True),
        ("没有过", False),
        ("不太会", False),
        ("好像没有", False),
        ("还好", False),
        ("从来没有", False),
    ],
)
def test_a_yes_or_no_in_other_words_answers_the_symptom_question(
    knowledge: KnowledgeService, answer: str, said: bool
) -> None:
    chat = Chat(knowledge)
    chat.say("皮肤痒，起了红疹，一周了，有点难受")
    assert chat.stage == "symptoms"
    asked = chat.state["pending"]["symptom"]
    chat.say(answer)
    assert (asked in chat.collected["symptoms"]) is said
    assert (asked in chat.collected["denied_symptoms"]) is not said
    assert chat.state["pending"]["symptom"] != asked, "an answered question is not asked again"


OPENING = {
    "zh": "皮肤痒，起了红疹，一周了，有点难受",
    "en": "My skin is itchy with a red rash, for a week, mild",
}


@pytest.mark.parametrize(
    ("language", "answer", "asked_said", "asked_denied", "fever"),
    [
        ("zh", "有点发烧，38度多", False, False, "symptoms"),  # speaks of a fever, not of what was asked
        ("zh", "没有发烧", False, False, "denied_symptoms"),
        ("zh", "有，还有点发烧", True, False, "symptoms"),  # a yes, then a fever besides
        ("zh", "没有，也没发烧", False, True, "denied_symptoms"),
        ("en", "no fever", False, False, "denied_symptoms"),  # a space glues English words
        ("en", "yes fever too", False, False, "symptoms"),
        ("en", "no, no fever", False, True, "denied_symptoms"),  # a no, then a fever denied besides
        ("en", "yes, and a fever", True, False, "symptoms"),
    ],
)
def test_a_yes_or_no_glued_to_another_symptom_answers_for_that_symptom(
    knowledge: KnowledgeService, language: str, answer: str, asked_said: bool, asked_denied: bool, fever: str
) -> None:
    chat = Chat(knowledge, language)
    chat.say(OPENING[language])
    asked = chat.state["pending"]["symptom"]
    assert asked != "发热"
    chat.say(answer)
    assert (asked in chat.collected["symptoms"]) is asked_said
    assert (asked in chat.collected["denied_symptoms"]) is asked_denied
    assert "发热" in chat.collected[fever]


@pytest.mark.parametrize("answer", ["没有怀孕", "没有其他病，不过敏", "没有吃药"])
def test_a_no_glued_to_another_slot_leaves_the_asked_symptom_not_answered(
    knowledge: KnowledgeService, answer: str
) -> None:
    chat = Chat(knowledge)
    chat.say(OPENING["zh"])
    asked = chat.state["pending"]["symptom"]
    chat.say(answer)
    assert asked not in chat.collected["denied_symptoms"]
    assert asked not in chat.collected["symptoms"]


@pytest.mark.parametrize(
    ("answer", "said"), [("a bit", True), ("sometimes", True), ("not really", False), ("never", False)]
)
def test_a_yes_or_no_in_other_words_in_english(knowledge: KnowledgeService, answer: str, said: bool) -> None:
    chat = Chat(knowledge, "en")
    chat.say("My skin is itchy with a red rash, for a week, mild")
    assert chat.stage == "symptoms"
    asked = chat.state["pending"]["symptom"]
    chat.say(answer)
    assert (asked in chat.collected["symptoms"]) is said


def test_a_free_answer_to_a_yes_no_question_is_read_for_every_slot(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("皮肤痒，起了红疹，一周了，有点难受")
    asked = chat.state["pending"]["symptom"]
    chat.say("有一点，对了我今年28岁，男的，对青霉素过敏")
    assert asked in chat.collected["symptoms"]
    assert (chat.collected["age"], chat.collected["sex"], chat.collected["allergies"]) == (
        28.0,
        "male",
        ["青霉素"],
    )
    chat.answer_until_done({"symptoms": "没有"})
    assert not {"profile", "age", "sex", "pregnancy", "allergies"} & set(chat.stages)


def test_a_question_not_understood_is_asked_once_more_then_left_not_answered(
    knowledge: KnowledgeService,
) -> None:
    chat = Chat(knowledge)
    chat.say("膝盖疼")
    assert chat.stage == "duration"
    chat.say("嗯嗯")
    assert chat.stage == "duration"
    assert chat.replies[-1] == rules().questions.duration.zh_again
    chat.say("哎")
    assert chat.stage == "severity"  # twice is enough: left for the doctor to ask
    assert "duration" in chat.state["unanswered"]
    assert chat.state["asked"]["duration"] == 2
    chat.answer_until_done({"severity": "3分", "profile": "60岁 男"})
    assert chat.stages.count("duration") == 2
    assert "duration" in chat.summary()["not_answered"]["slots"]


def test_skip_always_works_and_is_asked_only_once(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("头晕")
    for _ in range(12):
        if chat.stage == "done":
            break
        chat.say("跳过")
    assert chat.stage == "done"
    assert all(count == 1 for key, count in chat.state["asked"].items() if key != "chief_complaint")
    assert chat.state["triage"] is not None  # submittable
    not_answered = chat.summary()["not_answered"]
    assert {"duration", "severity", "age", "sex", "past_illnesses", "allergies", "medications"} <= set(
        not_answered["slots"]
    )
    assert not_answered["symptoms"] == chat.state["asked_symptoms"]


def test_a_bare_yes_to_a_background_question_is_followed_by_what_it_was(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("头痛两天，中等，45岁男")
    while chat.stage == "symptoms":
        chat.say("没有")
    chat.say("高血压，没有过敏")
    assert chat.stage == "medications"  # the one of the three not answered
    chat.say("有")
    assert chat.stage == "medications"
    assert chat.replies[-1] == rules().questions.medications_details.zh
    chat.say("在吃硝苯地平")
    assert chat.stage == "done"
    assert chat.collected["past_illnesses"] == ["高血压"]
    assert chat.collected["allergies"] == []
    assert chat.collected["medications"] == ["硝苯地平"]


def test_the_summary_lists_what_was_said_denied_and_not_asked(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("我头痛三天了，挺严重的，35岁女，没有发烧")
    chat.answer_until_done({"symptoms": "不知道", "pregnancy": "没有", "history": "高血压，不过敏，没吃药"})
    summary = chat.summary()
    said = summary["said"]
    assert said["chief_complaint"] == "我头痛三天了，挺严重的，35岁女，没有发烧"
    assert said["sites"] == [{"code": "head", "zh": "头部", "en": "head"}]
    assert said["duration"]["text"] == "三天"
    assert said["severity"]["score"] == 7
    assert said["symptoms"] == ["头痛"]
    assert (said["age"], said["sex"], said["past_illnesses"]) == (35.0, "female", ["高血压"])
    assert summary["denied"] == {"symptoms": ["发热"], "slots": ["pregnant", "allergies", "medications"]}
    assert summary["not_answered"]["symptoms"] == chat.state["asked_symptoms"]
    assert summary["names_en"]["头痛"] == "headache"
    # A red flag ends the questions: the rest is "not asked", for the doctor to see.
    chat = Chat(knowledge)
    chat.say("胸口剧痛，出冷汗")
    summary = chat.summary()
    assert summary["said"]["severity"]["score"] == 9
    assert {"duration", "age", "sex", "past_illnesses", "allergies", "medications"} <= set(
        summary["not_asked"]
    )


def test_a_red_flag_at_any_turn_ends_the_questions_with_emergency_advice(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("头痛", "两天")
    reply = chat.say("突然说话不清楚，一侧手脚没力气")
    assert chat.stage == "done"
    assert chat.state["red_flags"] == ["stroke_signs"]
    assert chat.state["triage"]["emergency"] is True
    assert reply.startswith(EMERGENCY_ZH)
    assert chat.say("还有点恶心").startswith(EMERGENCY_ZH)  # every later reply starts with it too


@pytest.mark.parametrize("language", ["zh", "en"])
def test_yes_to_a_red_flag_symptom_question_brings_emergency_advice(
    knowledge: KnowledgeService, language: str
) -> None:
    chat = Chat(knowledge, language)
    chat.say(
        "我咳嗽，还发烧，三天了，中等" if language == "zh" else "I have a cough and a fever, 3 days, moderate"
    )
    # A nurse screens for danger first: breathing difficulty, with a cough and a fever.
    assert chat.stage == "symptoms"
    assert chat.state["pending"]["symptom"] == "呼吸困难"
    reply = chat.say("有一点" if language == "zh" else "a bit")
    assert chat.stage == "done"
    assert "breathing" in chat.state["red_flags"][0]
    assert chat.state["triage"]["emergency"] is True
    assert reply.startswith(EMERGENCY_ZH if language == "zh" else "What you describe")


@pytest.mark.parametrize(
    ("messages", "flag"),
    [
        (["月经推迟两周了", "小腹有点疼"], True),  # a possible pregnancy, then pain: possibly ectopic
        (["我怀孕两个月了", "这两天肚子有点疼"], True),
        (["月经推迟两周了，验孕是阴性", "小腹有点疼"], False),
    ],
)
def test_the_pregnancy_the_dialogue_knows_weighs_in_every_later_turn(
    knowledge: KnowledgeService, messages: list[str], flag: bool
) -> None:
    chat = Chat(knowledge)
    chat.say(*messages)
    assert ("pregnancy_emergency" in chat.state["red_flags"]) is flag
    assert chat.replies[-1].startswith(EMERGENCY_ZH) is flag


def test_bad_input_gets_a_clear_answer(knowledge: KnowledgeService) -> None:
    texts = rules().questions
    chat = Chat(knowledge, "zh")
    assert chat.say("😭😭😭").startswith(texts.unreadable.zh)  # the portal's language: emoji have none
    assert chat.collected["chief_complaint"] is None
    assert chat.stage == "complaint"
    chat = Chat(knowledge)
    assert chat.say("没有不舒服") == texts.well.zh
    chat.say("没有")
    assert "chief_complaint" in chat.state["unanswered"]
    assert chat.stage == "profile", "nothing to ask about a complaint there is not"
    chat = Chat(knowledge)
    chat.say("不发烧，发烧38度")
    assert "发热" in chat.collected["symptoms"]
    assert chat.state["conflicting"] == ["发热"]
    chat = Chat(knowledge)
    chat.say("我headache三天了")  # mixed languages: Chinese wins, both are read
    assert (chat.state["language"], chat.collected["symptoms"]) == ("zh", ["头痛"])
    assert chat.collected["duration"]["days"] == 3.0
    chat = Chat(knowledge)
    chat.say("我头痛" + "，还是头痛，很难受" * 110)
    assert len(chat.collected["chief_complaint"]) == 300
    chat = Chat(knowledge)
    chat.say("你好")
    assert chat.stage == "complaint"
    chat.say("我嗓子疼")
    assert chat.collected["chief_complaint"] == "我嗓子疼"


def test_everything_said_after_the_summary_is_complete_is_kept(knowledge: KnowledgeService) -> None:
    chat = Chat(knowledge)
    chat.say("头痛两天，中等，45岁男")
    chat.answer_until_done({})
    chat.say("对了，我有糖尿病")
    assert chat.collected["notes"] == "对了，我有糖尿病"
    assert chat.collected["past_illnesses"] == ["糖尿病"], "a later fact corrects an earlier none"
    assert chat.stage == "done"


def test_signs_in_two_messages_add_up_but_a_history_does_not_make_an_alarm(
    knowledge: KnowledgeService,
) -> None:
    chat = Chat(knowledge)
    chat.say("头晕，两天了，中等，40岁男")
    while chat.stage == "symptoms":
        chat.say("没有")
    chat.say("没有病，对青霉素过敏，没吃药")  # an allergy history: beside "头晕", no anaphylaxis
    assert chat.state["red_flags"] == []
    assert chat.stage == "done"
    chat = Chat(knowledge)
    chat.say("我对花生过敏，刚才不小心吃了", "现在嗓子发紧，喘不上气")
    assert chat.state["red_flags"]
    assert chat.replies[-1].startswith(EMERGENCY_ZH)


_PATIENT_TEXT = st.text(
    alphabet=st.sampled_from(
        list("头痛发烧没有不是三天7分岁男女有点，。？!😭 abcno fever3/10过敏吃药怀孕跳过")
    ),
    max_size=60,
) | st.text(max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages=st.lists(_PATIENT_TEXT.filter(str.strip), min_size=1, max_size=6))
def test_no_message_breaks_the_dialogue(knowledge: KnowledgeService, messages: list[str]) -> None:
    chat = Chat(knowledge)
    chat.say(*messages)
    assert all(reply.strip() for reply in chat.replies)
    assert chat.stage in {*QUESTION_SLOTS, "done"}
    assert chat.summary()["format"] == 2
