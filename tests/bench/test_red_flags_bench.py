"""The red-flag benchmark counts what it says, and its probe set is well-formed."""

from __future__ import annotations

from backend.patient.services.red_flags import red_flags
from bench.red_flags import Probe, evaluate, load_probes


def test_recall_and_false_alarms_are_counted_per_class_and_language() -> None:
    probes = [
        Probe("我胸口疼得厉害", "zh", "chest_pain"),
        Probe("I have crushing chest pain", "en", "chest_pain"),
        Probe("被蛇咬了", "zh", "envenomation"),
        Probe("我头有点晕", "zh", "arrhythmia"),  # a miss: dizziness alone is not an arrhythmia flag
        Probe("我咳嗽三天了", "zh", None),
        Probe("我想死", "zh", None),  # a false alarm for the count, whatever the rule says
    ]
    report = evaluate(probes, repeat=1)
    assert report.recall["chest_pain"] == {"zh": [1, 1], "en": [1, 1]}
    assert report.recall["arrhythmia"] == {"zh": [0, 1]}
    assert report.class_recall("envenomation") == 1.0
    assert report.emergency_recall == 3 / 4
    assert [probe.text for probe, _ in report.misses] == ["我头有点晕"]
    assert report.false_alarm_rate == 1 / 2
    assert report.mean_us > 0


def test_the_probe_set_covers_every_class_in_both_languages_in_both_parts() -> None:
    probes = load_probes()
    codes = {flag.code for flag in red_flags()}
    assert {probe.expect for probe in probes if probe.expect} == codes
    assert {probe.near for probe in probes if probe.near} <= codes
    for part in ("dev", "blind"):
        for code in codes:
            languages = {probe.lang for probe in probes if probe.part == part and probe.expect == code}
            assert languages == {"zh", "en"}, (part, code)
        assert any(probe.expect is None for probe in probes if probe.part == part)
    assert len({probe.text for probe in probes}) == len(probes)  # no probe twice
