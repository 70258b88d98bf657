"""Pre-consultation benchmark: how many turns to a submittable summary, and how many slots come out right.

    python -m bench.dialogue [--verbose]

Runs every scripted patient of bench/dialogue_scripts.py (zh and en; several facts at once, vague,
yes and no in other words, written for a child or a parent, red flags) through the dialogue in
process, on the starter knowledge base, by the rule path (no language model). Each script answers
what it is asked by the question's stage. Prints, in one run:

- turns (patient messages) until the summary can be submitted: median, mean and max;
- slots filled correctly, against each script's expected slots (see dialogue_scripts.py);
- questions about something the patient had already said (the dialogue must ask none).

`measure()` is importable, so bench/triage.py can print the same figures beside its own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.core.config import Settings
from backend.core.knowledge.service import KnowledgeService
from backend.patient.services.dialogue import advance, new_state
from backend.patient.services.dialogue_state import QUESTION_SLOTS
from bench.dialogue_scripts import SCRIPTS, Script

MAX_TURNS = 25
NOT_SURE = {"zh": "不知道", "en": "not sure"}
DURATION_TOLERANCE = 0.15


@dataclass
class Outcome:
    script: Script
    turns: int
    submittable: bool
    checks: dict[str, bool]
    redundant: int  # questions about slots already filled when asked
    stages: list[str] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(self.checks.values())


@dataclass
class Figures:
    outcomes: list[Outcome]

    @property
    def turns(self) -> list[int]:
        return [o.turns for o in self.outcomes if o.submittable]

    @property
    def correct(self) -> int:
        return sum(o.correct for o in self.outcomes)

    @property
    def expected(self) -> int:
        return sum(len(o.checks) for o in self.outcomes)


def _words(value: Any) -> str:
    return str(value).lower()


def check(expected: dict[str, Any], state: dict[str, Any]) -> dict[str, bool]:
    """Each expected slot: filled as a careful nurse would have written it down."""
    collected = state["collected"]
    checks: dict[str, bool] = {}
    for slot, want in expected.items():
        if slot == "emergency":
            checks[slot] = bool(state["red_flags"]) is want
        elif slot == "duration":
            got = collected["duration"]
            if want is True:
                checks[slot] = got is not None
            else:
                days = got and got.get("days")
                checks[slot] = bool(days) and abs(days - want) <= DURATION_TOLERANCE * want
        elif slot == "severity":
            score = (collected["severity"] or {}).get("score")
            checks[slot] = score is not None and want[0] <= score <= want[1]
        elif slot in ("sites", "symptoms", "denied"):
            key = "denied_symptoms" if slot == "denied" else slot
            checks[slot] = set(want) <= set(collected[key])
        elif slot in ("past_illnesses", "allergies", "medications"):
            items = collected[slot]
            if want == []:
                checks[slot] = items == []
            else:
                checks[slot] = bool(items) and all(any(_words(w) in _words(i) for i in items) for w in want)
        else:
            checks[slot] = collected.get(slot) == want
    return checks


async def run_script(script: Script, knowledge: KnowledgeService) -> Outcome:
    state = new_state("en" if script.language == "en" else "zh")
    symptom_answers = list(script.symptoms)
    default = script.default or NOT_SURE[script.language]
    text = script.opening
    turns = redundant = 0
    stages: list[str] = []
    while turns < MAX_TURNS:
        await advance(state, text, knowledge)
        turns += 1
        stage = state["stage"]
        stages.append(stage)
        if stage == "done":
            break
        slots = QUESTION_SLOTS.get(stage, ())
        details = any(slot in state["vague"] for slot in slots)  # "有" asked "what was it?": not redundant
        if slots and not details and all(state["collected"].get(slot) is not None for slot in slots):
            redundant += 1
        if stage == "symptoms":
            text = symptom_answers.pop(0) if symptom_answers else default
        else:
            text = script.answers.get(stage, default)
    submittable = state["triage"] is not None
    return Outcome(script, turns, submittable, check(script.expected, state), redundant, stages)


async def measure(knowledge: KnowledgeService) -> Figures:
    return Figures([await run_script(script, knowledge) for script in SCRIPTS])


def report(figures: Figures, elapsed: float, verbose: bool) -> None:
    outcomes = figures.outcomes
    languages = {lang: sum(o.script.language == lang for o in outcomes) for lang in ("zh", "en")}
    turns = figures.turns
    print(
        f"dialogue benchmark: {len(outcomes)} scripted patients ({languages['zh']} zh, "
        f"{languages['en']} en), starter knowledge base, rule path, {elapsed:.1f} s"
    )
    print(
        f"  turns to a submittable summary: median {statistics.median(turns):g}, mean "
        f"{statistics.mean(turns):.1f}, max {max(turns)} ({len(turns)}/{len(outcomes)} submittable)"
    )
    print(
        f"  slots filled correctly: {figures.correct}/{figures.expected} "
        f"({figures.correct / figures.expected:.2f})"
    )
    held = [o for o in outcomes if o.script.held_out]
    if held:
        right, total = sum(o.correct for o in held), sum(len(o.checks) for o in held)
        median = statistics.median(o.turns for o in held)
        print(
            f"  of which held out ({len(held)} scripts written after the rules last changed): slots "
            f"{right}/{total} ({right / total:.2f}), turns median {median:g}"
        )
    print(f"  questions about something already said: {sum(o.redundant for o in outcomes)}")
    by_slot: dict[str, list[bool]] = {}
    for outcome in outcomes:
        for slot, ok in outcome.checks.items():
            by_slot.setdefault(slot, []).append(ok)
    print("  by slot: " + ", ".join(f"{slot} {sum(oks)}/{len(oks)}" for slot, oks in sorted(by_slot.items())))
    for outcome in outcomes:
        missed = [slot for slot, ok in outcome.checks.items() if not ok]
        if verbose or missed:
            line = (
                f"    {outcome.script.name}: {outcome.turns} turns, {outcome.correct}/{len(outcome.checks)}"
            )
            print(
                line
                + (f", missed {', '.join(missed)}" if missed else "")
                + (f"  {outcome.stages}" if verbose else "")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="every script's turns and stages")
    args = parser.parse_args()

    async def run() -> tuple[Figures, float]:
        with tempfile.TemporaryDirectory() as data_dir:
            knowledge = KnowledgeService(Settings(data_dir=Path(data_dir), log_level="WARNING"), "bench")
            await knowledge.start()
            started = time.perf_counter()
            figures = await measure(knowledge)
            return figures, time.perf_counter() - started

    figures, elapsed = asyncio.run(run())
    report(figures, elapsed, args.verbose)


if __name__ == "__main__":
    main()
