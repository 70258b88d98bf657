"""Who a complaint is about, read from the patient's own words: age, sex, pregnancy, subject.

The first thing a triage nurse settles: "我14岁的儿子脸上长痘" is about a boy of 14, "月经推迟两周" is
a woman who may be pregnant, "我爸爸腿疼" an adult man. The word lists are clinical rules and live in
rules/who.toml; numbers of years, months and days are read here. Fields the text does not settle
stay None: the caller's own fields (the form's age and sex) win over anything read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from backend.core.rules import load_rules
from backend.patient.services.wordlists import CN_NUMERALS, any_pattern, parse_number, word_pattern

RULES_PATH = Path(__file__).resolve().parents[1] / "rules" / "who.toml"

Sex = Literal["male", "female"]
Subject = Literal["self", "child", "relative"]
AgeGroup = Literal["infant", "child", "adult", "elderly"]

CHILD_AGE = 14  # Chinese hospitals see children under 14 in 儿科
ELDERLY_AGE = 65


class _Subject(BaseModel):
    child: list[str]
    not_child: list[str]
    relative: list[str]


class _Sex(BaseModel):
    male: list[str]
    female: list[str]
    male_patterns: list[str]
    female_patterns: list[str]
    male_anatomy: list[str]
    female_anatomy: list[str]


class _Pregnancy(BaseModel):
    pregnant: list[str]
    pregnant_patterns: list[str]
    possible_patterns: list[str]
    not_pregnant: list[str]


class _Age(BaseModel):
    infant: list[str]
    elderly: list[str]


class _Answer(BaseModel):
    male: list[str]
    female: list[str]


class WhoRules(BaseModel):
    subject: _Subject
    sex: _Sex
    pregnancy: _Pregnancy
    age: _Age
    answer: _Answer


@dataclass(frozen=True, slots=True)
class Profile:
    age: float | None = None  # years; a five-week-old is 0.1
    sex: Sex | None = None
    pregnant: bool | None = None  # True also when possible (a late period): assumed until ruled out
    subject: Subject = "self"
    age_group: AgeGroup | None = None  # from the age, or from words (新生儿, 老人) when no age is given

    def merged(self, age: float | None, sex: Sex | None) -> Profile:
        """With what the patient entered in the form, which wins over what was read."""
        age = age if age is not None else self.age
        group = _group(age) if age is not None else self.age_group
        return Profile(age, sex or self.sex, self.pregnant if sex != "male" else False, self.subject, group)


@dataclass(frozen=True, slots=True)
class _Compiled:
    child: re.Pattern[str]
    not_child: re.Pattern[str]
    relative: re.Pattern[str]
    male: re.Pattern[str]
    female: re.Pattern[str]
    male_short: re.Pattern[str]
    female_short: re.Pattern[str]
    male_anatomy: re.Pattern[str]
    female_anatomy: re.Pattern[str]
    pregnant: re.Pattern[str]
    possible: re.Pattern[str]
    not_pregnant: re.Pattern[str]
    infant: re.Pattern[str]
    elderly: re.Pattern[str]
    answer_male: frozenset[str]
    answer_female: frozenset[str]


@lru_cache(maxsize=1)
def _rules() -> _Compiled:
    rules = load_rules(RULES_PATH, WhoRules)
    sex, pregnancy = rules.sex, rules.pregnancy
    return _Compiled(
        child=word_pattern(rules.subject.child),
        not_child=word_pattern(rules.subject.not_child),
        relative=word_pattern(rules.subject.relative),
        male=word_pattern(sex.male),
        female=word_pattern(sex.female),
        male_short=any_pattern(sex.male_patterns),
        female_short=any_pattern(sex.female_patterns),
        male_anatomy=word_pattern(sex.male_anatomy),
        female_anatomy=word_pattern(sex.female_anatomy),
        pregnant=any_pattern([word_pattern(pregnancy.pregnant).pattern, *pregnancy.pregnant_patterns]),
        possible=any_pattern(pregnancy.possible_patterns),
        not_pregnant=word_pattern(pregnancy.not_pregnant),
        infant=word_pattern(rules.age.infant),
        elderly=word_pattern(rules.age.elderly),
        answer_male=frozenset(word.lower() for word in rules.answer.male),
        answer_female=frozenset(word.lower() for word in rules.answer.female),
    )


_CN_NUMBER = CN_NUMERALS
_NUMBER = rf"(\d{{1,3}}(?:\.\d)?|[{_CN_NUMBER}]{{1,4}})"
_YEARS = re.compile(
    rf"{_NUMBER}\s*(?:周岁|岁)(半)?|(?:今年|年龄|年纪)\s*(?:是|有)?\s*(\d{{1,3}})(?!\s*(?:年|月|天|个|次|斤|公斤|kg))"
    r"|(\d{1,3})\s*-?\s*(?:years?|yrs?)[\s-]*old|\baged?\s*(\d{1,3})\b|\b(\d{1,3})\s*y/?o\b"
    # "I'm 42", "42 male", "35女": an age beside the words that say who, never before a unit.
    r"|\bi'?\s*a?m\s+(\d{1,3})\b"
    r"(?!\s*(?:%|kg|kgs|lbs?|cm|days?|weeks?|months?|years? ago|times|degrees?|[.]\d))"
    r"|(?<![\d.])(\d{1,3})\s*,?\s*(?:male|female|man|woman|m|f)\b|(?<![\d.])(\d{1,3})\s*[男女](?:性|士|生)?(?![\u4e00-\u9fff])",
    re.IGNORECASE,
)
# Months and days are an age only beside a baby ("5个月大", "宝宝3个月"): "疼了3个月" is a duration.
_MONTHS = re.compile(
    rf"{_NUMBER}\s*个?月(?:大|龄|的(?:宝宝|孩子|婴儿|小孩|宝贝|男宝|女宝|儿子|女儿))"
    rf"|(?:宝宝|孩子|婴儿|宝贝|儿子|女儿|男宝|女宝)(?:才|刚|刚刚|已经|现在)?(?:满)?{_NUMBER}\s*个?月(?!经)"
    r"|(\d{1,2})[\s-]*months?[\s-]*old",
    re.IGNORECASE,
)
_DAYS = re.compile(
    rf"(?:出生|生下来|出生后)(?:才|刚)?{_NUMBER}\s*天|{_NUMBER}\s*天(?:大|的(?:宝宝|新生儿|婴儿|孩子))"
    r"|(\d{1,2})[\s-]*days?[\s-]*old",
    re.IGNORECASE,
)


def _ages(text: str) -> list[float]:
    """Every age stated in the text, in years, in the order they appear."""
    found: list[tuple[int, float]] = []
    for match in _YEARS.finditer(text):
        groups = match.groups()
        raw = next((g for g in (groups[0], *groups[2:]) if g), None)
        value = parse_number(raw) if raw else None
        if value is not None and value <= 120:
            found.append((match.start(), value + (0.5 if groups[1] else 0.0)))
    for pattern, unit in ((_MONTHS, 12.0), (_DAYS, 365.0)):
        for match in pattern.finditer(text):
            raw = next((g for g in match.groups() if g), None)
            value = parse_number(raw) if raw else None
            if value is not None:
                found.append((match.start(), round(value / unit, 2)))
    return [age for _, age in sorted(found)]


def _group(age: float) -> AgeGroup:
    if age < 1:
        return "infant"
    if age < CHILD_AGE:
        return "child"
    return "elderly" if age >= ELDERLY_AGE else "adult"


def read_profile(text: str) -> Profile:
    """Who `text` is about, as far as it says."""
    rules = _rules()
    pregnant: bool | None = None
    if rules.not_pregnant.search(text):
        pregnant = False
    elif rules.pregnant.search(text) or rules.possible.search(text):
        pregnant = True
    # A pregnant woman's "宝宝" is her unborn child: the patient is she.
    subject: Subject = "self"
    # "还能有孩子吗" is about the patient's own fertility: such phrases name no child patient.
    if rules.child.search(rules.not_child.sub(" ", text)) and not pregnant:
        subject = "child"
    elif rules.relative.search(text):
        subject = "relative"

    ages = _ages(text)
    age: float | None = None
    if ages:
        # A parent may give both ages ("我30岁，儿子5岁"): the child's is the younger.
        age = min(ages) if subject == "child" else ages[0]

    sex: Sex | None = None
    cues = (
        (rules.male_anatomy, rules.female_anatomy),
        (rules.male_short, rules.female_short),
        (rules.male, rules.female),
    )
    for male, female in cues:  # the most telling cue first: organs, then "35岁，男", then words
        is_male, is_female = bool(male.search(text)), bool(female.search(text))
        if is_male != is_female:
            sex = "male" if is_male else "female"
            break
    if pregnant:
        sex = "female"

    group: AgeGroup | None = _group(age) if age is not None else None
    if group is None:
        if rules.infant.search(text):
            group = "infant"
        elif subject == "child":
            group = "child"
        elif rules.elderly.search(text):
            group = "elderly"
    return Profile(age=age, sex=sex, pregnant=pregnant, subject=subject, age_group=group)


# Separators of a short answer's parts: "35, F", "女/35", "42 male".
_ANSWER_PARTS = re.compile(r"[\s,，、;；/:：.。]+")
_ANSWER_AGE = re.compile(rf"{_NUMBER}\s*(?:周岁|岁|y|yo|yrs?|years?)?", re.IGNORECASE)
MAX_ANSWER_PARTS = 4


def read_answer(text: str) -> tuple[float | None, Sex | None]:
    """Age and sex from a short answer to "your age and sex?", such as "35, F" or "女 35".

    Only an answer made of nothing but a number and a sex word counts: "3" in "头痛3天" is no age.
    """
    parts = [part for part in _ANSWER_PARTS.split(text.strip().lower()) if part]
    if not parts or len(parts) > MAX_ANSWER_PARTS:
        return None, None
    rules = _rules()
    age: float | None = None
    sex: Sex | None = None
    for part in parts:
        if part in rules.answer_male or part in rules.answer_female:
            sex = "male" if part in rules.answer_male else "female"
            continue
        match = _ANSWER_AGE.fullmatch(part)
        value = parse_number(match.group(1)) if match else None
        if value is None or not 0 < value <= 120 or age is not None:
            return None, None
        age = value
    return age, sex
