"""Numbers a patient states: body temperature, heart rate, blood pressure and age.

The thresholds are clinical and live in the data files (`temperature_at_least = 40`); this module
only reads the numbers the way patients write them: digits or Chinese numerals (四十, 一百八十,
三十九度五), °C, ℃, 度, °F and "degrees", "一分钟180多下", "heart racing at 180", "血压170/110",
"两个月大", "6-week-old". "多" ("180多下", "两个多月") adds half a unit: more than the number, less
than the next. A number only counts with the words that make it a measurement of the body: "40度"
of bath water or weather, "拉了20多次" or "心脏病10年" are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["temperature", "heart_rate", "systolic", "diastolic", "age"]

_CN_DIGITS: Final = dict(
    zip("零〇一二两俩三四五六七八九", (0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True)
)
_CN_NUMBER: Final = r"[零〇一二两俩三四五六七八九十百几]{1,6}"
_NUMBER: Final = rf"(?:[0-9]{{1,3}}(?:\.[0-9]{{1,2}})?|{_CN_NUMBER}(?:点[零一二三四五六七八九])?)"
_EN_WORDS: Final = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "a couple of": 2, "a few": 3, "few": 3,
}  # fmt: skip
_EN_NUMBER: Final = r"(?:[0-9]{1,3}(?:\.[0-9])?|" + "|".join(sorted(_EN_WORDS, key=len, reverse=True)) + ")"


def _below_hundred(text: str) -> int | None:
    if not text:
        return 0
    if text.endswith("几"):  # "三十几" is 30-something: counted as the middle, 35
        base = _below_hundred(text[:-1]) if len(text) > 1 else 0
        return None if base is None or base % 10 else base + 5
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        ten = 1 if not tens else _CN_DIGITS.get(tens)
        one = 0 if not ones else _CN_DIGITS.get(ones)
        return None if ten is None or one is None else ten * 10 + one
    return _CN_DIGITS.get(text) if len(text) == 1 else None


def cn_number(text: str) -> float | None:
    """一百八 -> 180, 一百零五 -> 105, 四十一 -> 41, 三十九点五 -> 39.5; None if not a number."""
    whole, _, fraction = text.partition("点")
    hundreds, has_hundred, rest = whole.partition("百")
    value: int | None
    if has_hundred:
        count = 1 if not hundreds else _CN_DIGITS.get(hundreds) if len(hundreds) == 1 else None
        if count is None:
            return None
        if rest.startswith(("零", "〇")):
            below = _below_hundred(rest[1:])
        elif len(rest) == 1 and rest in _CN_DIGITS:
            below = _CN_DIGITS[rest] * 10  # "一百八" is 180
        elif rest == "几":
            below = 50  # "一百几" is a hundred and something
        elif len(rest) == 2 and rest[0] in _CN_DIGITS and rest[1] in _CN_DIGITS:
            below = _CN_DIGITS[rest[0]] * 10 + 5  # "一百六七" is 160 to 170
        else:
            below = _below_hundred(rest)
        value = None if below is None else count * 100 + below
    else:
        value = _below_hundred(whole) if whole else None
    if value is None:
        return None
    if not fraction:
        return float(value)
    return value + _CN_DIGITS[fraction] / 10 if fraction in _CN_DIGITS else None


def number(text: str) -> float | None:
    text = text.strip()
    if text in _EN_WORDS:
        return float(_EN_WORDS[text])
    try:
        return float(text)
    except ValueError:
        return cn_number(text)


@dataclass(frozen=True, slots=True)
class Measure:
    kind: Kind
    value: float
    start: int  # where the number starts in its clause: the negation check reads what is before


# --- temperature -------------------------------------------------------------------------------
# "度", "°" and "degrees" alone say nothing about the scale: the number decides (39 °C, 102 °F).
_TEMP_UNIT: Final = re.compile(
    r"\s*(?:(?P<f>°f|华氏度|degrees? f(?:ahrenheit)?\b|f\b)|(?P<c>°c|摄氏度|degrees? c(?:elsius)?\b|c\b)"
    r"|度|°|degrees?\b)"
    r"(?P<tail>多|半|[0-9一二三四五六七八九](?![0-9]))?"
    r"|\s*on the thermometer|\s+fever"
)
_TEMP_CONTEXT: Final = re.compile(
    r"(?:发烧|发热|高烧|高热|低烧|烧到|烧了|烧得|烧|体温|温度|(?<![a-z])(?:fever(?: of)?|temp(?:erature)?"
    r"|thermometer(?: says| said| reads| read| showed)?|running))"
    r"(?:\s*(?:有|到|达|是|了|都|已经|高达|最高|一直|快|将近|差不多|接近|超过|还|又|在|of|is|was|at|reached"
    r"|hit|up to|around|about|over|above|nearly|almost|went up to|to|a|still|like)){0,4}\s*\Z"
)
# "40度的热水", "外面40度": water, oil and weather are not the body.
_NOT_BODY_BEFORE: Final = re.compile(r"(?:天气|气温|室温|水温|外面|室外|户外|weather|outside|oven).{0,6}\Z")
_NOT_BODY_AFTER: Final = re.compile(
    r"\s*的?(?:热|开|温|冷|洗澡)?(?:水|油|汤|高温|天气)|\s*(?:hot )?(?:water|oil|weather|outside)"
)
_RANGE: Final = r"\s*(?:到|至|-|~|to)\s*"
_RANGE_BEFORE: Final = re.compile(rf"{_NUMBER}{_RANGE}\Z")
_RANGE_AFTER: Final = re.compile(rf"{_RANGE}{_NUMBER}")
_NUMBERS: Final = re.compile(_NUMBER)


# The words that make a number a measurement stand just before it: the patterns that read them end
# at the number (\Z), and are searched in the last characters only, not the whole clause each time.
_WINDOW: Final = 40


def _ending(pattern: re.Pattern[str], head: str) -> int | None:
    """Where a match of `pattern` that ends `head` starts, or None."""
    offset = max(0, len(head) - _WINDOW)
    found = pattern.search(head, offset)
    return None if found is None else found.start()


def _celsius(value: float, unit: str | None) -> float | None:
    if unit == "f" or (unit is None and 93 <= value <= 112):
        value = (value - 32) * 5 / 9
    return value if 34 <= value <= 44.5 else None


def _temperatures(clause: str) -> Iterator[Measure]:
    for match in _NUMBERS.finditer(clause):
        value = number(match.group())
        if value is None:
            continue
        head, tail = clause[: match.start()], clause[match.end() :]
        context = _ending(_TEMP_CONTEXT, head)
        unit_match = _TEMP_UNIT.match(tail)
        if unit_match is None:
            # "39到40度": the first number of a range counts as the second does.
            following = _RANGE_AFTER.match(tail)
            ranged = following is not None and _TEMP_UNIT.match(tail[following.end() :]) is not None
            if not (ranged or context is not None or _ending(_RANGE_BEFORE, head) is not None):
                continue
            rest = tail
        else:
            extra = unit_match.group("tail")
            value += 0.5 if extra in ("多", "半") else (number(extra) or 0) / 10 if extra else 0
            rest = tail[unit_match.end() :]
        if _ending(_NOT_BODY_BEFORE, head) is not None or _NOT_BODY_AFTER.match(rest):
            continue
        unit = None
        if unit_match is not None:
            unit = "f" if unit_match.group("f") else "c" if unit_match.group("c") else None
        celsius = _celsius(value, unit)
        if celsius is not None:
            # The denial check reads what stands before "烧到" in "没有烧到40度".
            yield Measure("temperature", celsius, match.start() if context is None else context)


# --- heart rate ---------------------------------------------------------------------------------
_RATE_CONTEXT: Final = re.compile(
    r"(?:心跳|心率|脉搏|脉|一分钟|每分钟|1分钟|一分|每分|(?<![a-z])(?:heart ?rate|pulse|hr|heart(?:beat)?"
    r"(?: is| was| has been| keeps)?(?: racing| beating| pounding| going| running| up| down)?))"
    r"(?:\s*(?:是|有|到|达|都|快|慢|跳|跳了|了|才|只有|只|大概|差不多|超过|高达|一直|在|一分钟|每分钟|测|测了|显示"
    r"|突然|一下子|(?:掉|降|低|飙|升|涨|快|加快|加速|变)到|at|of|is|was|around|about|over|above|to|like|hit|reached|nearly"
    r"|almost|up to|only|just|down to|under|below|suddenly|dropped|dropped to|went up to|went to|jumped to"
    r"|shot up to|is now|now|reads|showed|says|spiked to|~)){0,4}\s*\Z"
)
_BPM: Final = re.compile(r"\s*(?:bpm|beats? (?:a|per|/|each) ?min(?:ute)?)")
_NOT_RATE: Final = re.compile(
    r"\s*多?\s*(?:年|岁|天|个|周|月|%|mg|kg|斤|公斤|cm|mm|支|片|粒|小时|分钟|years?|days?|hours?|minutes?|mg|kg)"
)


def _heart_rates(clause: str) -> Iterator[Measure]:
    for match in _NUMBERS.finditer(clause):
        value = number(match.group())
        if value is None or not 20 <= value <= 300:
            continue
        head, tail = clause[: match.start()], clause[match.end() :]
        context = _ending(_RATE_CONTEXT, head)
        if _NOT_RATE.match(tail) or not (_BPM.match(tail) or context is not None):
            continue
        value += 0.5 if tail.lstrip().startswith("多") else 0
        yield Measure("heart_rate", value, match.start() if context is None else context)


# --- blood pressure -----------------------------------------------------------------------------
_PRESSURE: Final = re.compile(
    r"(?:血压|(?<![a-z])bp|blood pressure)"
    r"(?:\s*(?:是|有|到|达|了|都|测|量|高达|:|is|was|of|at|reading|reads))*"
    rf"\s*(?P<sys>{_NUMBER})\s*(?:/|除以|over|-)\s*(?P<dia>{_NUMBER})"
    rf"|高压\s*(?P<sys2>{_NUMBER})\S{{0,3}}?低压\s*(?P<dia2>{_NUMBER})"
    rf"|收缩压\s*(?P<sys3>{_NUMBER})"
)


def _pressures(clause: str) -> Iterator[Measure]:
    for match in _PRESSURE.finditer(clause):
        systolic = number(match.group("sys") or match.group("sys2") or match.group("sys3") or "")
        diastolic = number(match.group("dia") or match.group("dia2") or "")
        if systolic is not None and 50 <= systolic <= 300:
            yield Measure("systolic", systolic, match.start())
        if diastolic is not None and 20 <= diastolic <= 200:
            yield Measure("diastolic", diastolic, match.start())


# --- age ----------------------------------------------------------------------------------------
# Whose age a bare "两个月" is: "宝宝才两个月" is an age, "咳嗽两个月了" and "我两个月前" are not.
_ZH_CHILD: Final = (
    r"(?:宝宝|宝贝|孩子|小孩|娃娃?|婴儿|新生儿|儿子|女儿|闺女|老大|老二|老三|大宝|二宝|小宝"
    r"|孙子|孙女|外孙女?|男孩|女孩)"
)
_ZH_UNIT: Final = r"(?P<more>多|来)?(?P<unit>周岁|岁半|岁|个半月|个多月|个月|月|天|日|周|个星期|星期)"
# Each has groups `n` (the number), `unit` and `more`; Python's re allows a group name once a pattern.
_ZH_AGES: Final = tuple(
    re.compile(pattern)
    for pattern in (
        rf"(?P<n>{_NUMBER}){_ZH_UNIT}(?=大|左右大|的(?:孩子|宝宝|婴儿|小孩|娃|宝贝|儿子|女儿|闺女|新生儿|小宝宝))",
        rf"(?P<n>{_NUMBER})(?P<more>多)?(?P<unit>周岁|岁半|岁)",
        rf"(?:出生|生下来|满|刚满|才满)(?:了|才|刚|刚刚)?(?P<n>{_NUMBER}){_ZH_UNIT}",
        rf"{_ZH_CHILD}(?:才|刚|刚刚|只有|刚满|今年|现在|已经|出生)?(?P<n>{_NUMBER}){_ZH_UNIT}"
        r"(?!前|后|以前|以后|以来|之前|之后|内|里|期间|左右前)",
    )
)
_EN_UNIT: Final = r"(?P<unit>days?|weeks?|wks?|months?|mos?|years?|yrs?|y)"
_EN_AGES: Final = tuple(
    re.compile(pattern)
    for pattern in (
        rf"(?<![a-z0-9.])(?P<n>{_EN_NUMBER})[- ]?{_EN_UNIT}[- ]olds?\b",
        rf"\baged? (?P<n>{_EN_NUMBER})\b",
        r"(?<![a-z0-9.])(?P<n>[0-9]{1,3}) ?(?:yo|y\.o\.?|yr old)(?![a-z])",
        r"\b(?:baby|son|daughter|child|kid|boy|girl|toddler|infant|newborn|he|she|grandson|granddaughter)"
        r"(?: is| was|'s| who is)(?: only| just| barely| about| around)?"
        rf" (?P<n>{_EN_NUMBER})[- ]?{_EN_UNIT}\b",
    )
)
_PER_YEAR: Final = {"天": 365.0, "日": 365.0, "周": 52.0, "星期": 52.0, "个星期": 52.0, "月": 12.0}
_PER_YEAR_EN: Final = {"day": 365.0, "week": 52.0, "wk": 52.0, "month": 12.0, "mo": 12.0}
_HALF_UNITS: Final = {"个多月": "月", "个半月": "月", "个月": "月", "岁半": "岁", "周岁": "岁"}


def _ages(clause: str) -> Iterator[Measure]:
    for pattern in _ZH_AGES:
        for match in pattern.finditer(clause):
            value = number(match.group("n"))
            if value is None:
                continue
            unit = match.group("unit")
            half = match.group("more") == "多" or unit in ("个多月", "个半月", "岁半")
            unit = _HALF_UNITS.get(unit, unit)
            yield Measure("age", (value + 0.5 * half) / _PER_YEAR.get(unit, 1.0), match.start("n"))
    for pattern in _EN_AGES:
        for match in pattern.finditer(clause):
            value = number(match.group("n"))
            if value is not None:
                unit = (match.groupdict().get("unit") or "year").rstrip("s")
                yield Measure("age", value / _PER_YEAR_EN.get(unit, 1.0), match.start("n"))


_ANY_NUMBER: Final = re.compile(
    rf"[0-9零〇一二两俩三四五六七八九十百]|(?<![a-z])(?:{'|'.join(_EN_WORDS)})(?![a-z])"
)


def measures(clause: str) -> list[Measure]:
    """Every measurement stated in one normalised clause."""
    if not _ANY_NUMBER.search(clause):
        return []
    return [*_temperatures(clause), *_heart_rates(clause), *_pressures(clause), *_ages(clause)]
