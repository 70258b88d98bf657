"""The red-flag detector: every emergency is caught in Chinese and English, ordinary complaints
and plain denials are not, and the advice sends people to 120 without ever giving a dose."""

from __future__ import annotations

import pytest

from backend.patient.services.red_flags import (
    Language,
    RedFlag,
    detect_red_flags,
    emergency_advice,
    general_advice,
    red_flags,
)

ALL_CODES = (
    "chest_pain",
    "breathing_difficulty",
    "stroke_signs",
    "heavy_bleeding",
    "gi_bleeding",
    "unconscious",
    "arrhythmia",
    "suicidal",
    "infant_fever",
    "febrile_convulsion",
    "child_high_fever",
    "meningitis_sepsis",
    "anaphylaxis",
    "envenomation",
    "poisoning",
    "severe_trauma",
    "severe_burn",
    "ectopic_pregnancy",
    "pregnancy_emergency",
    "preeclampsia",
    "gynaecological_emergency",
    "severe_abdominal_pain",
)

# Realistic patient messages: at least two Chinese and two English per code, for the classes the
# detector had before the rules became data (test_red_flags_classes.py covers every class).
TRIGGERS: dict[str, tuple[str, ...]] = {
    "chest_pain": (
        "我胸口疼得厉害，还一直出冷汗",
        "胸口剧痛还出冷汗是怎么回事？",
        "胸闷得很，疼痛放射到左胳膊",
        "I have crushing chest pain and I'm sweating",
        "There's a heavy pressure in my chest and the pain is spreading to my jaw",
    ),
    "breathing_difficulty": (
        "我突然喘不过气来，嘴唇有点发紫",
        "孩子被花生噎住了，脸都憋紫了",
        "I can't breathe properly and my lips are turning blue",
        "My son is choking on a grape",
    ),
    "stroke_signs": (
        "我爸突然嘴歪了，说话也含糊不清",
        "妈妈左边胳膊突然没力气，抬不起来",
        "这是我这辈子最严重的头痛",
        "Dad's face is drooping on one side and his speech is slurred",
        "I suddenly have the worst headache of my life",
    ),
    "heavy_bleeding": (
        "手被刀割了个大口子，血止不住",
        "怀孕12周，下身流了很多血",
        "I cut my leg and it won't stop bleeding",
        "There is a lot of blood in my stool",
    ),
    "gi_bleeding": (
        "他今天吐了好多血",
        "大便是黑色的，像柏油一样",
        "I've been vomiting blood since this morning",
        "There is a lot of blood in my stool",
    ),
    "unconscious": (
        "我奶奶刚才突然晕倒了，叫她也没反应",
        "孩子全身抽搐，口吐白沫",
        "My husband passed out and is not responding",
        "She's having a seizure right now",
    ),
    "suicidal": (
        "我真的不想活了",
        "最近总想自杀，觉得活着没意思",
        "I want to kill myself",
        "Sometimes I think everyone would be better off if I ended my life",
    ),
    "infant_fever": (
        "我家宝宝两个月大，发烧39度",
        "新生儿发烧了怎么办",
        "My 6-week-old baby has a fever of 38.5",
        "Our newborn feels hot and has a high temperature",
    ),
    "anaphylaxis": (
        "吃了虾以后全身起荨麻疹，现在喘不上气",
        "被蜜蜂蛰了，感觉喉头水肿",
        "I ate peanuts and now my throat is closing up",
        "I have hives all over and I'm struggling to breathe",
    ),
    "poisoning": (
        "孩子误服了奶奶的降压药",
        "我吃了一整瓶安眠药",
        "他喝了农药",
        "My toddler swallowed some bleach",
        "I took too many sleeping pills",
    ),
    "severe_trauma": (
        "出了车祸，腿上的骨头都露出来了",
        "孩子摔倒撞到头了，现在一直吐",
        "He hit his head and has been vomiting ever since",
        "I was knocked off my bike by a car and hit by a van",
    ),
    "severe_burn": (
        "全身大面积烧伤",
        "孩子被开水烫伤了",
        "I spilled boiling oil and have a large burn on my arm",
        "my son was electrocuted",
    ),
    "pregnancy_emergency": (
        "我怀孕8周，肚子很疼还出血了",
        "孕30周，突然见红了",
        "I'm 10 weeks pregnant and have severe stomach pain",
        "I'm pregnant and bleeding",
    ),
    "severe_abdominal_pain": (
        "肚子疼得直不起腰",
        "突然剧烈腹痛，肚子硬得像木板",
        "I have sudden severe abdominal pain",
        "My stomach is rigid and the pain is unbearable",
    ),
}


def codes(text: str, age_years: float | None = None) -> list[str]:
    return [flag.code for flag in detect_red_flags(text, age_years)]


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def test_red_flags_cover_every_required_code_once() -> None:
    assert [flag.code for flag in red_flags()] == list(ALL_CODES)


def test_every_code_has_two_chinese_and_two_english_phrasings() -> None:
    # Guards the table below: a code without phrasings in both languages would go untested.
    assert set(TRIGGERS) <= set(ALL_CODES)
    for code, texts in TRIGGERS.items():
        chinese = [text for text in texts if is_chinese(text)]
        assert len(chinese) >= 2, code
        assert len(texts) - len(chinese) >= 2, code


@pytest.mark.parametrize(
    ("code", "text"),
    [(code, text) for code, texts in TRIGGERS.items() for text in texts],
)
def test_each_red_flag_triggers(code: str, text: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "我咳嗽三天了，有点流鼻涕",
        "I have had a mild sore throat for two days",
        "膝盖有点疼",
        "my skin is itchy",
        "我有点头疼，可能是没睡好",
        "喉咙肿痛，吞咽的时候有点疼",
        "我对花粉过敏，一直打喷嚏",
        "孩子三岁了，有点咳嗽",
        "眼皮一直在抽搐",
        "我没有意识到自己感冒了",
        "蔬菜上的农药残留怎么洗干净",
        "I get a little out of breath climbing stairs",
        "I got my flu shot yesterday and my arm is sore",
        "I have a stabbing pain in my knee",
        "I touched poison ivy and now I have a rash on my leg",
        "",
    ],
)
def test_ordinary_complaints_trigger_nothing(text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "没有胸痛，就是有点咳嗽",
        "无胸痛",
        "不胸痛，只是胃有点不舒服",
        "否认胸痛",
        "没有感到任何胸痛",
        "no chest pain, just a cough",
        "denies chest pain",
        "I had a cough without chest pain",
        "I don't have any chest pain",
        "没有 chest pain",
    ],
)
def test_denied_chest_pain_does_not_trigger(text: str) -> None:
    assert "chest_pain" not in codes(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("没有呼吸困难，就是鼻塞", "breathing_difficulty"),
        ("no difficulty breathing", "breathing_difficulty"),
        ("怀孕了，没有出血，肚子也不疼", "pregnancy_emergency"),
        ("I'm pregnant, no bleeding and no cramps", "pregnancy_emergency"),
        ("I'm not pregnant but I have some spotting", "pregnancy_emergency"),
        ("没有抽搐", "unconscious"),
    ],
)
def test_denials_of_other_red_flags_do_not_trigger(text: str, code: str) -> None:
    assert code not in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        # Only filler words may stand between a negation and the symptom; anything else means the
        # patient is not denying it, and safety says trigger.
        "我不知道是不是胸痛",
        "受不了的胸痛",
        "医生问我有没有胸痛",
        "I'm not sure if this is chest pain",
        "I've never had chest pain like this before",
        # A denial ends at its clause.
        "没有发烧，但是胸口疼",
        "no fever, but chest pain since this morning",
    ],
)
def test_negation_does_not_reach_past_other_words_or_clauses(text: str) -> None:
    assert "chest_pain" in codes(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("我最近咳嗽流鼻涕，睡眠也不好，胃口一般，今天早上突然胸口疼得厉害", "chest_pain"),
        (
            "I have a runny nose and a cough and my back hurts and since this morning I have "
            "crushing chest pain",
            "chest_pain",
        ),
        (
            "Mostly just tired lately, my knee aches and I sleep badly, and yesterday I passed out at work",
            "unconscious",
        ),
        ("最近工作压力大，睡不好，吃不下饭，有时候觉得活着没意思", "suicidal"),
    ],
)
def test_red_flag_late_in_an_ordinary_message_triggers(text: str, code: str) -> None:
    assert code in codes(text)


def test_known_infant_age_makes_any_fever_a_red_flag() -> None:
    assert codes("发烧39度", age_years=0.1) == ["infant_fever"]
    assert codes("has a fever of 38.2", age_years=0.1) == ["infant_fever"]


def test_fever_is_not_an_infant_red_flag_for_older_patients() -> None:
    assert codes("发烧39度", age_years=5) == []
    assert codes("发烧39度") == []
    assert codes("宝宝1岁了，发烧39度") == []


def test_infant_age_without_fever_does_not_trigger() -> None:
    assert codes("没有发烧，就是有点吐奶", age_years=0.1) == []
    assert codes("宝宝两个月大，有点鼻塞") == []


def test_flags_come_in_rule_order_and_at_most_once() -> None:
    text = "我想死。胸口疼，胸痛，喘不过气，chest pain"
    assert codes(text) == ["chest_pain", "breathing_difficulty", "suicidal"]


def test_full_width_and_upper_case_text_is_normalised() -> None:
    assert codes("ＣＨＥＳＴ　ＰＡＩＮ") == ["chest_pain"]
    assert codes("I CAN'T BREATHE") == ["breathing_difficulty"]
    # A curly apostrophe in "won’t" must match like a straight one.
    assert "heavy_bleeding" in codes("it won\u2019t stop bleeding")


def test_decimal_point_does_not_split_a_temperature() -> None:
    # The only fever word here is "38.5度": splitting at its "." would leave "38" and "5度".
    assert "infant_fever" in codes("孩子才20天，量了一下38.5度")


def test_detect_returns_red_flag_objects() -> None:
    flags = detect_red_flags("I want to kill myself")
    assert len(flags) == 1
    assert isinstance(flags[0], RedFlag)
    for text in (flags[0].name, flags[0].name_en, flags[0].advice, flags[0].advice_en):
        assert text.strip()


ALL_FLAGS = list(red_flags())
LANGUAGES: tuple[Language, ...] = ("zh", "en")
SUICIDAL = next(flag for flag in ALL_FLAGS if flag.code == "suicidal")


def test_general_advice_sends_people_to_120_in_both_languages() -> None:
    assert "120" in general_advice("zh")
    assert "急诊" in general_advice("zh")
    assert "120" in general_advice("en")
    assert "emergency department" in general_advice("en")


@pytest.mark.parametrize("language", LANGUAGES)
def test_composed_advice_starts_with_120_and_includes_each_flag(language: Language) -> None:
    advice = emergency_advice(ALL_FLAGS, language)
    assert advice.startswith(general_advice(language))
    assert "120" in advice
    for flag in ALL_FLAGS:
        assert (flag.advice if language == "zh" else flag.advice_en) in advice


@pytest.mark.parametrize("flag", ALL_FLAGS, ids=lambda flag: flag.code)
def test_advice_never_gives_a_dose(flag: RedFlag) -> None:
    for language in LANGUAGES:
        advice = emergency_advice([flag], language).lower()
        for unit in ("mg", "毫克", "毫升"):
            assert unit not in advice, (flag.code, language, unit)


def test_suicidal_advice_gives_hotlines_and_says_not_to_stay_alone() -> None:
    zh = emergency_advice([SUICIDAL], "zh")
    en = emergency_advice([SUICIDAL], "en")
    for advice in (zh, en):
        assert "400-161-9995" in advice
        assert "010-82951332" in advice
    assert "不要一个人待着" in zh
    assert "do not stay alone" in en.lower()


def test_suicidal_message_advice_end_to_end() -> None:
    advice = emergency_advice(detect_red_flags("我不想活了"), "zh")
    assert "120" in advice
    assert "400-161-9995" in advice


def test_advice_repeats_each_flag_once_and_needs_no_flags() -> None:
    chest = detect_red_flags("胸痛")
    advice = emergency_advice(chest + chest, "en")
    assert advice.count(chest[0].advice_en) == 1
    assert emergency_advice([], "zh") == general_advice("zh")
