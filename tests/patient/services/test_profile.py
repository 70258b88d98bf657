"""Who a complaint is about: the first step of triage and slots of the dialogue."""

from __future__ import annotations

import pytest

from backend.patient.services.profile import Profile, read_profile


@pytest.mark.parametrize(
    ("text", "age", "sex", "subject", "group"),
    [
        ("我14岁的儿子脸上老是冒痘痘", 14.0, "male", "child", "adult"),
        ("医生，我是一个25岁的男性", 25.0, "male", "self", "adult"),
        ("我家宝宝5个月大，发烧了", 0.42, None, "child", "infant"),
        ("出生20天的宝宝黄疸", 0.05, None, "child", "infant"),
        ("我两岁半的女儿咳嗽", 2.5, "female", "child", "child"),
        ("我爸爸今年七十二岁，腿疼", 72.0, "male", "relative", "elderly"),
        ("35岁，女", 35.0, "female", "self", "adult"),
        ("男，35岁", 35.0, "male", "self", "adult"),
        ("我30岁，儿子5岁，他一直咳嗽", 5.0, "male", "child", "child"),
        ("My 3-year-old son has a fever", 3.0, "male", "child", "child"),
        ("I am a 45 year old woman with back pain", 45.0, "female", "self", "adult"),
    ],
)
def test_age_sex_and_subject_are_read_from_the_words(
    text: str, age: float, sex: str | None, subject: str, group: str
) -> None:
    profile = read_profile(text)
    assert (profile.age, profile.sex, profile.subject, profile.age_group) == (age, sex, subject, group)


def test_a_duration_in_months_is_not_an_age() -> None:
    assert read_profile("腰疼了3个月了").age is None
    assert read_profile("月经推迟两个月").age is None


@pytest.mark.parametrize(
    "text", ["我包皮红肿", "最近早泄", "my prostate has been bothering me", "查出精囊炎"]
)
def test_an_organ_only_men_have_says_the_patient_is_a_man(text: str) -> None:
    assert read_profile(text).sex == "male"


@pytest.mark.parametrize(
    "text",
    [
        "月经推迟两周，小腹坠痛",
        "我怀孕8周了能吃布洛芬吗",
        "孕12周，肚子疼",
        "I missed my period and have cramps",
    ],
)
def test_pregnancy_or_a_late_period_counts_as_possibly_pregnant(text: str) -> None:
    profile = read_profile(text)
    assert profile.pregnant is True
    assert profile.sex == "female"


def test_a_denied_pregnancy_is_not_pregnant() -> None:
    assert read_profile("没怀孕，月经推迟了").pregnant is False


def test_a_pregnant_womans_baby_is_not_a_child_patient() -> None:
    assert read_profile("怀孕5个月，宝宝胎动少").subject == "self"


def test_the_form_wins_over_the_words() -> None:
    merged = read_profile("我儿子5岁，发烧").merged(age=7, sex="male")
    assert merged == Profile(age=7, sex="male", pregnant=False, subject="child", age_group="child")


@pytest.mark.parametrize(
    "text", ["子宫切除后我还能有孩子吗", "生完孩子以后一直腰疼", "I had a baby 3 weeks ago"]
)
def test_a_child_the_patient_wants_or_has_borne_makes_no_child_patient(text: str) -> None:
    profile = read_profile(text)
    assert profile.subject == "self"
    assert profile.age_group is None


def test_a_parent_who_also_speaks_of_giving_birth_still_writes_for_the_child() -> None:
    assert read_profile("生完二胎后，我家孩子老是发烧").subject == "child"
