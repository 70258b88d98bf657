"""Numbers as patients write them: temperatures, heart rates, blood pressures and ages are read in
digits or Chinese numerals, in °C or °F, and only when they measure the body."""

from __future__ import annotations

import pytest

from backend.patient.services.red_flags.measures import Kind, cn_number, measures
from backend.patient.services.red_flags.text import normalise


def read(text: str, kind: Kind) -> list[float]:
    return [round(found.value, 2) for found in measures(normalise(text)) if found.kind == kind]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("四十", 40),
        ("四十一", 41),
        ("十五", 15),
        ("一百八", 180),
        ("一百八十五", 185),
        ("一百零五", 105),
        ("两百", 200),
        ("三十九点五", 39.5),
        ("三十几", 35),
        ("一百六七", 165),
    ],
)
def test_chinese_numerals(text: str, value: float) -> None:
    assert cn_number(text) == value


def test_digits_in_a_row_are_not_a_chinese_number() -> None:
    assert cn_number("一八零") is None


@pytest.mark.parametrize(
    ("text", "celsius"),
    [
        ("发烧40度", 40),
        ("体温38.5℃", 38.5),
        ("烧到四十", 40),
        ("三十九度五", 39.5),
        ("39度多", 39.5),
        ("fever of 104", 40),
        ("104°F", 40),
        ("temp hit 40 degrees", 40),
        ("a temperature of 41c", 41),
        ("newborn with a fever of 100.8", 38.22),
        ("40.1 on the thermometer", 40.1),
    ],
)
def test_a_body_temperature_is_read_in_celsius(text: str, celsius: float) -> None:
    assert read(text, "temperature") == [celsius]


def test_a_range_gives_both_ends() -> None:
    assert read("体温37.9到38.3之间", "temperature") == [37.9, 38.3]
    assert read("39到40度", "temperature") == [39, 40]


@pytest.mark.parametrize("text", ["外面40度", "被100度的开水烫了", "用40度的水泡脚", "I'm 40 years old"])
def test_weather_water_and_other_numbers_are_not_a_temperature(text: str) -> None:
    assert read(text, "temperature") == []


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("一分钟180多下", 180.5),
        ("心跳一分钟一百八十多下", 180.5),
        ("心率才38", 38),
        ("每分钟200次", 200),
        ("heart racing at 180", 180),
        ("my smartwatch says 180 bpm", 180),
        ("pulse is 35", 35),
        ("heart rate suddenly dropped to 38", 38),
        ("心率掉到三十几", 35),
    ],
)
def test_a_heart_rate_is_read(text: str, rate: float) -> None:
    assert read(text, "heart_rate") == [rate]


@pytest.mark.parametrize("text", ["拉肚子拉了20多次", "心脏病10年了", "吐了3次", "每分钟呼吸40次"])
def test_counts_and_years_near_the_heart_are_not_a_heart_rate(text: str) -> None:
    assert read(text, "heart_rate") == []


def test_a_blood_pressure_gives_both_numbers() -> None:
    assert read("血压170/110", "systolic") == [170]
    assert read("血压170/110", "diastolic") == [110]
    assert read("高压180低压120", "diastolic") == [120]
    assert read("my bp is 165 over 112", "systolic") == [165]


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("宝宝两个月大", 0.17),
        ("孩子才20天", 0.05),
        ("刚出生十来天", 0.03),
        ("三个多月的宝宝", 0.29),
        ("我家老二才七周", 0.13),
        ("女，35岁", 35),
        ("my 6-week-old", 0.12),
        ("he is 3 weeks old", 0.06),
        ("a 5 year old", 5),
    ],
)
def test_an_age_is_read_in_years(text: str, years: float) -> None:
    assert years in read(text, "age")


@pytest.mark.parametrize("text", ["我两个月前做了手术", "咳嗽两个月了", "孩子两个月前开始咳嗽"])
def test_a_duration_is_not_an_age(text: str) -> None:
    assert read(text, "age") == []
