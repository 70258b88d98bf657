"""The red-flag data files: the product's load, and a bad file is refused with a message that names
the file and the rule or concept, so the clinician who edited it can find the mistake."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI

from backend.patient.services.red_flags import loader, red_flags_lifespan
from backend.patient.services.red_flags.loader import RULES_DIR, RuleFileError, load_rulebook

GENERAL = """
order = ["demo"]

[emergency_advice]
zh = "请立即拨打120或前往最近的急诊。"
en = "Call 120 or go to the nearest emergency department now."

[negation]
zh_cues = ["没有?"]
zh_fillers = ["有"]
en_cues = ["no"]
en_fillers = ["any"]

[fragments]
whose = "(?:my|his)"
"""

SHARED = """
[concepts.fever]
zh = ["发烧"]
en = ["fever"]
temperature_at_least = 38
"""

DEMO = """
code = "demo"
name = "示例"
name_en = "Demo"
advice = "这是示例建议，请尽快就医。"
advice_en = "This is demo advice: see a doctor now."

[[rule]]
why = "A fever with a rash, for the loader tests."
all = ["fever", "rash"]

[concepts.rash]
zh = ["皮疹"]
en_regex = ["rash on {whose} (?:arm|leg)"]
"""


def write_rules(directory: Path, **files: str) -> Path:
    contents = {"_general.toml": GENERAL, "_shared.toml": SHARED, "demo.toml": DEMO}
    contents |= {name.replace("__", "."): text for name, text in files.items()}  # demo__toml: demo.toml
    for name, text in contents.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def refusal(directory: Path) -> str:
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(directory)
    return str(raised.value)


def test_the_product_rules_load_and_every_flag_has_its_file() -> None:
    book = load_rulebook(RULES_DIR)
    codes = [flag.flag.code for flag in book.flags]
    assert len(codes) == len(set(codes)) >= 20
    assert {path.stem for path in RULES_DIR.glob("[!_]*.toml")} == set(codes)


def test_a_valid_directory_loads_and_matches(tmp_path: Path) -> None:
    book = load_rulebook(write_rules(tmp_path))
    assert [flag.code for flag in book.detect("发烧39度，身上起了皮疹", None, False)] == ["demo"]
    assert [flag.code for flag in book.detect("fever and a rash on my arm", None, False)] == ["demo"]
    assert book.detect("没有发烧，身上起了皮疹", None, False) == []


def test_a_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    message = refusal(write_rules(tmp_path, demo__toml=DEMO.replace('name_en = "Demo"', "name_en = Demo")))
    assert message.startswith("demo.toml: not valid TOML")


def test_a_misspelt_key_names_the_file_the_rule_and_the_key(tmp_path: Path) -> None:
    message = refusal(write_rules(tmp_path, demo__toml=DEMO.replace("all = [", "alll = [")))
    assert "demo.toml" in message
    assert "rule 1: alll" in message


def test_a_rule_without_a_reason_is_refused(tmp_path: Path) -> None:
    text = DEMO.replace('why = "A fever with a rash, for the loader tests."\n', "")
    message = refusal(write_rules(tmp_path, demo__toml=text))
    assert "demo.toml" in message
    assert "rule 1: why" in message


def test_a_rule_using_an_undefined_concept_names_it(tmp_path: Path) -> None:
    message = refusal(write_rules(tmp_path, demo__toml=DEMO.replace('"rash"]', '"rashes"]')))
    assert message.startswith("demo.toml: rule 1: uses the concept 'rashes'")


def test_a_pattern_that_does_not_compile_names_the_concept_and_the_pattern(tmp_path: Path) -> None:
    message = refusal(write_rules(tmp_path, demo__toml=DEMO.replace("(?:arm|leg)", "(?:arm|leg")))
    assert message.startswith("demo.toml: concept rash: en_regex 1 does not compile")


def test_an_unknown_fragment_is_named(tmp_path: Path) -> None:
    message = refusal(write_rules(tmp_path, demo__toml=DEMO.replace("{whose}", "{hers}")))
    assert "demo.toml: concept rash: en_regex 1" in message
    assert "{hers}" in message


def test_a_concept_no_rule_uses_is_refused(tmp_path: Path) -> None:
    text = DEMO + '\n[concepts.itch]\nzh = ["瘙痒"]\n'
    message = refusal(write_rules(tmp_path, demo__toml=text))
    assert message == "demo.toml: concept 'itch' is not used by any rule"


def test_a_chinese_term_without_chinese_is_refused(tmp_path: Path) -> None:
    message = refusal(write_rules(tmp_path, demo__toml=DEMO.replace('zh = ["皮疹"]', 'zh = ["rash"]')))
    assert message.startswith("demo.toml: concept rash: zh term 'rash' has no Chinese character")


def test_a_flag_file_must_be_named_after_its_code_and_listed_in_the_order(tmp_path: Path) -> None:
    directory = write_rules(tmp_path)
    (directory / "other.toml").write_text(DEMO, encoding="utf-8")
    assert refusal(directory).startswith("other.toml: code is 'demo'")
    (directory / "other.toml").write_text(DEMO.replace('code = "demo"', 'code = "other"'), encoding="utf-8")
    assert refusal(directory) == "_general.toml: order must list every flag file once: missing ['other']"


def test_a_threshold_out_of_range_is_refused(tmp_path: Path) -> None:
    message = refusal(write_rules(tmp_path, _shared__toml=SHARED.replace("= 38", "= 48")))
    assert message.startswith("_shared.toml: concept fever: temperature_at_least")


def test_a_rule_that_could_fire_on_what_the_caller_knows_alone_is_refused(tmp_path: Path) -> None:
    rules = DEMO[: DEMO.index("[[rule]]")]
    rule = '[[rule]]\nwhy = "Every baby, whatever is said."\nany = ["baby"]\n'
    text = rules + rule + "\n[concepts.baby]\nage_below = 1\n"
    message = refusal(write_rules(tmp_path, demo__toml=text))
    assert message.startswith("demo.toml: rule 1: could fire on the patient's age or pregnancy alone")


def test_a_flag_may_not_replace_itself_or_an_unknown_flag(tmp_path: Path) -> None:
    text = DEMO.replace('advice_en = "This', 'replaces = ["demo"]\nadvice_en = "This')
    message = refusal(write_rules(tmp_path, demo__toml=text))
    assert message == "demo.toml: replaces 'demo', which is not another flag"


def test_a_rule_with_both_any_and_all_is_refused(tmp_path: Path) -> None:
    text = DEMO.replace('all = ["fever", "rash"]', 'all = ["fever", "rash"]\nany = ["fever"]')
    message = refusal(write_rules(tmp_path, demo__toml=text))
    assert "demo.toml: rule 1" in message
    assert "either `any` or `all`" in message


def test_an_unknown_underscore_file_is_refused(tmp_path: Path) -> None:
    directory = write_rules(tmp_path)
    (directory / "_extra.toml").write_text("", encoding="utf-8")
    assert refusal(directory).startswith("_extra.toml: unknown file")


def test_a_worker_does_not_start_on_rules_it_cannot_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write_rules(tmp_path, demo__toml=DEMO.replace('"rash"]', '"rashes"]'))
    monkeypatch.setattr(loader, "RULES_DIR", bad)
    loader.rulebook.cache_clear()
    try:

        async def start() -> None:
            async with red_flags_lifespan(FastAPI()):
                pass

        with pytest.raises(RuleFileError, match="rashes"):
            asyncio.run(start())
    finally:
        loader.rulebook.cache_clear()
