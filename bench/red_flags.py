"""Red-flag benchmark: recall per class of emergency, false alarms, and matching time per message.

    python -m bench.red_flags [--probes tests/fixtures/red_flags/probes.jsonl] [--repeat 20]

The probe set (tests/fixtures/red_flags/probes.jsonl) holds emergencies as patients put them, each
labelled with the flag it should raise (`expect`), and ordinary complaints (`expect: null`, most
with the class they sit close to in `near`). Two parts: "dev" probes, whose misses were studied to
improve the rules (by class, never by sentence); "blind" probes, written after the last change to
the rules and only ever measured, so their figures are the honest ones. When a blind miss leads to a
change, its probes move to "dev" and a fresh blind part is written. Printed, for each part:
- recall per class and language: the share of a class's probes that raise that class's flag;
- emergency recall: the share of all emergencies that raise some flag (what the patient sees:
  emergency advice first);
- false alarms: the share of ordinary complaints that raise any flag;
- the time to compile the rules once and to match one message (mean and p99, one core).
bench.triage calls `evaluate` and `print_report` for its red-flag figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from backend.patient.services.red_flags import detect_red_flags
from backend.patient.services.red_flags.loader import RULES_DIR, load_rulebook

PROBES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "red_flags" / "probes.jsonl"


@dataclass(frozen=True)
class Probe:
    text: str
    lang: str
    expect: str | None
    near: str | None = None
    part: str = "dev"  # "dev": misses were studied; "blind": only ever measured


@dataclass
class Report:
    # class -> language -> (hits, total)
    recall: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    emergencies: int = 0
    emergencies_flagged: int = 0
    ordinary: int = 0
    false_alarms: list[tuple[Probe, list[str]]] = field(default_factory=list)
    misses: list[tuple[Probe, list[str]]] = field(default_factory=list)
    compile_ms: float = 0.0
    mean_us: float = 0.0
    p99_us: float = 0.0

    def class_recall(self, code: str) -> float:
        hits = sum(counts[0] for counts in self.recall[code].values())
        total = sum(counts[1] for counts in self.recall[code].values())
        return hits / total if total else 0.0

    @property
    def macro_recall(self) -> float:
        return statistics.mean(self.class_recall(code) for code in self.recall) if self.recall else 0.0

    @property
    def emergency_recall(self) -> float:
        return self.emergencies_flagged / self.emergencies if self.emergencies else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.ordinary if self.ordinary else 0.0


def load_probes(path: Path = PROBES) -> list[Probe]:
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return [
        Probe(row["text"], row["lang"], row["expect"], row.get("near"), row.get("set", "dev")) for row in rows
    ]


def evaluate(probes: list[Probe] | None = None, repeat: int = 20) -> Report:
    """Matches every probe; with `repeat`, also times compiling the rules and matching a message."""
    probes = load_probes() if probes is None else probes
    report = Report()
    recall: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for probe in probes:
        found = [flag.code for flag in detect_red_flags(probe.text)]
        if probe.expect is None:
            report.ordinary += 1
            if found:
                report.false_alarms.append((probe, found))
            continue
        report.emergencies += 1
        report.emergencies_flagged += bool(found)
        counts = recall[probe.expect][probe.lang]
        counts[1] += 1
        if probe.expect in found:
            counts[0] += 1
        else:
            report.misses.append((probe, found))
    report.recall = {code: dict(langs) for code, langs in recall.items()}
    if repeat:
        re.purge()  # a worker compiles cold: Python's cache of compiled patterns would flatter this
        started = time.perf_counter()
        load_rulebook(RULES_DIR)
        report.compile_ms = (time.perf_counter() - started) * 1000
        timings = []
        for _ in range(repeat):
            for probe in probes:
                began = time.perf_counter()
                detect_red_flags(probe.text)
                timings.append((time.perf_counter() - began) * 1e6)
        timings.sort()
        report.mean_us = statistics.mean(timings)
        report.p99_us = timings[int(len(timings) * 0.99)]
    return report


def print_report(report: Report, *, title: str = "the probe set", details: bool = True) -> None:
    print(f"red flags on {title} ({report.emergencies} emergencies, {report.ordinary} ordinary complaints)")
    print(f"  {'class':<26} {'zh':>9} {'en':>9} {'recall':>7}")
    for code in sorted(report.recall):
        cells = []
        for lang in ("zh", "en"):
            hits, total = report.recall[code].get(lang, [0, 0])
            cells.append(f"{hits}/{total}" if total else "-")
        print(f"  {code:<26} {cells[0]:>9} {cells[1]:>9} {report.class_recall(code):>7.0%}")
    print(
        f"  recall per class (macro) {report.macro_recall:.1%}   emergency recall (any flag) "
        f"{report.emergency_recall:.1%}   false alarms {len(report.false_alarms)}/{report.ordinary} "
        f"({report.false_alarm_rate:.1%})"
    )
    if report.mean_us:
        print(
            f"  compile {report.compile_ms:.0f} ms once per worker; "
            f"match {report.mean_us:.0f} us per message (p99 {report.p99_us:.0f} us)"
        )
    if details:
        for probe, found in report.misses:
            print(f"  missed {probe.expect}: {probe.text!r} -> {found}")
        for probe, found in report.false_alarms:
            print(f"  false alarm (near {probe.near}): {probe.text!r} -> {found}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--probes", type=Path, default=PROBES)
    parser.add_argument("--repeat", type=int, default=20, help="timing passes over the probe set")
    parser.add_argument("--quiet", action="store_true", help="figures only, not each miss and false alarm")
    args = parser.parse_args()
    probes = load_probes(args.probes)
    for part in ("dev", "blind"):
        subset = [probe for probe in probes if probe.part == part]
        print_report(evaluate(subset, repeat=0), title=f"the {part} probes", details=not args.quiet)
    print_report(evaluate(probes, args.repeat), title="all probes", details=False)


if __name__ == "__main__":
    main()
