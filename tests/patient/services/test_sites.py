"""Where and what: body sites and requests read from a complaint (rules/sites.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.rules import RulesError, load_rules
from backend.patient.services.sites import SiteRules, department_weights, find_areas


def _areas(text: str) -> list[str]:
    return [hit.area.code for hit in find_areas(text)]


def test_the_longest_term_wins_so_a_cosmetic_request_is_not_a_nose_complaint() -> None:
    assert _areas("想做鼻子整形") == ["cosmetic"]
    assert _areas("鼻子不通气") == ["nose_throat"]


def test_a_request_outweighs_the_site_it_is_about() -> None:
    weights = department_weights(find_areas("眼睛小，想割双眼皮"))
    assert max(weights, key=weights.__getitem__) == "医疗美容科"


def test_more_terms_of_an_area_make_it_stronger_and_weak_terms_count_half() -> None:
    one, two = find_areas("牙疼")[0], find_areas("牙疼，牙龈肿")[0]
    assert two.strength > one.strength
    assert find_areas("有点痒")[0].strength < find_areas("长了湿疹")[0].strength


def test_english_terms_match_whole_words_only() -> None:
    assert _areas("my tooth hurts") == ["teeth_mouth"]
    assert "ears" not in _areas("I fear the worst")


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[[area]]\ncode = "x"\nname = "甲"\nname_en = "x"\nkind = "site"\n'
         'departments = { "不存在科" = 1.0 }\n'
         'terms = ["牙"]\n', "unknown departments"),
        ('[[area]]\ncode = "a"\nname = "甲"\nname_en = "a"\nkind = "site"\ndepartments = { "口腔科" = 1.0 }\n'
         'terms = ["牙"]\n[[area]]\ncode = "b"\nname = "乙"\nname_en = "b"\nkind = "site"\n'
         'departments = { "眼科" = 1.0 }\nterms = ["牙"]\n', "in both a and b"),
        ('[[area]]\ncode = "a"\nname = "甲"\n', "Field required"),
        ("not toml at all = = =", "sites.toml"),
    ],
)  # fmt: skip
def test_a_bad_rule_file_is_refused_with_the_reason(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(RulesError, match=problem):
        load_rules(path, SiteRules)


@pytest.mark.parametrize("text", ["湿疹又复发了", "口腔溃疡老是复发", "孕中期腿抽筋"])
def test_a_relapse_or_a_stage_alone_does_not_name_a_tumour(text: str) -> None:
    assert "cancer" not in _areas(text)


def test_an_operation_alone_says_little_of_which_surgeon() -> None:
    operation, wound = find_areas("做了手术")[0], find_areas("伤口化脓")[0]
    assert operation.area.code == wound.area.code == "surgical"
    assert operation.strength < wound.strength


def test_urinary_complaints_point_to_andrology_as_well_as_urology() -> None:
    weights = department_weights(find_areas("尿频尿急，尿道口疼"))
    assert weights["泌尿外科"] > weights["男科"] > 0


@pytest.mark.parametrize("text", ["右手中指肿了", "大脚趾疼", "小腿抽痛", "my thumb is swollen"])
def test_fingers_toes_and_limbs_are_bones_joints_and_muscles(text: str) -> None:
    assert _areas(text) == ["bones_joints"]


def test_the_neck_and_the_back_are_weak_cues_and_plain_back_is_no_site() -> None:
    assert find_areas("脖子紧")[0].strength < find_areas("颈椎疼")[0].strength
    assert _areas("I went back to work") == []


def test_every_male_reproductive_organ_is_andrology() -> None:
    assert _areas("精囊炎") == _areas("输精管结扎后疼") == ["male_genital"]
