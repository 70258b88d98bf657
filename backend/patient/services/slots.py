"""Every slot read from one patient message by the reviewed rules, whatever was asked.

"我头痛三天了，挺严重的，35岁女，没有发烧" fills the complaint, the site, the duration, the severity,
the symptoms said and denied, the age and the sex at once. What the assistant just asked
(`expecting`) only widens what counts: a bare "5" is a severity after "how bad?", "有一点" a yes
after "do you have a fever?", "海鲜" an allergy after "any allergies?".

Pure and CPU-only (regular expressions over at most a thousand characters): the caller runs it in
the thread pool, with the entities the knowledge graph found in the same normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.patient.services.dialogue_rules import EN_NUMBER_WORDS, Compiled, rules
from backend.patient.services.profile import read_answer, read_profile
from backend.patient.services.slot_schema import BACKGROUND, Answer, Duration, Severity, SlotUpdate
from backend.patient.services.wordlists import parse_number

_CLAUSE_BREAK: Final = re.compile(r"[,，。;；!！?？\n]|(?<!\d)\.|\.(?!\d)")
_LETTERS: Final = re.compile(r"[^\W_]")  # any letter or digit of any script, CJK included
_PUNCT: Final = " \t\r\n,，。.;；:：!！?？、~～…'\"“”‘’()（）[]【】-—"
_LIST_SPLIT: Final = re.compile(r"[和、及跟与/&]|或者|或是|以及|\band\b|\bor\b", re.IGNORECASE)
_CN_SCORE: Final = re.compile(
    r"(?<![一二两三四五六七八九十])([一二两三四五六七八九十])\s*分(?=$|[\s,，。.!！?？；;~]|左右|吧|的样子|啦|了)"
)
_BARE_SCORE: Final = re.compile(r"\A\s*(10|\d|[一二两三四五六七八九十])\s*(?:分)?\s*\Z")
MAX_FREE_ITEM: Final = 60
MAX_MEDICINE_WORDS: Final = 16  # after "在吃", longer than this is a sentence, not a name


@dataclass(frozen=True, slots=True)
class Clause:
    start: int
    end: int


ANOTHER_SLOT: Final = "<another slot>"


@dataclass
class Reading:
    """What one message said, as the rules read it."""

    update: SlotUpdate
    answer: Answer | None = None  # how the message starts: a yes, a no, a skip, or none of them
    rest: str = ""  # the message after that yes or no ("有，青霉素" -> "青霉素")
    # The symptom the yes or no is glued to, when one follows it at once: "有点发烧" and "没有发烧"
    # speak of a fever, whatever the question asked about.
    answer_for: str | None = None  # or ANOTHER_SLOT: "没有怀孕" speaks of pregnancy
    well: bool = False  # says nothing is wrong ("没有不舒服")
    greeting: bool = False  # only a greeting ("你好")
    readable: bool = True  # holds any letter at all (emoji-only does not)
    conflicting: list[str] = field(default_factory=list)  # symptoms both said and denied here
    vague: list[str] = field(default_factory=list)  # list slots answered yes without saying what

    @property
    def substantive(self) -> bool:
        """Says something about the complaint itself."""
        u = self.update
        return bool(u.symptoms or u.sites or u.duration or u.severity or self.conflicting)


def normalise(text: str) -> str:
    """One form for reading: full-width digits and letters as ASCII, runs of spaces as one."""
    return re.sub(r"[^\S\n]+", " ", unicodedata.normalize("NFKC", text)).strip()


def _clauses(text: str) -> list[Clause]:
    spans, start = [], 0
    for match in _CLAUSE_BREAK.finditer(text):
        if match.start() > start:
            spans.append(Clause(start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append(Clause(start, len(text)))
    return spans


def classify(text: str) -> tuple[Answer | None, str]:
    """Whether the answer starts with a yes, a no or a skip (in any words of answers.toml), and the rest."""
    compiled = rules()
    rest = text.strip(_PUNCT)
    for _ in range(4):  # "嗯，我觉得，好像有" passes over up to a few fillers
        for kind in ("neutral", "skip", "no", "yes"):
            if match := compiled.starts[kind].match(rest):
                return (None if kind == "neutral" else kind), rest[match.end() :].strip(_PUNCT)  # type: ignore[return-value]
        filler = compiled.fillers.match(rest)
        if filler is None:
            break
        rest = rest[filler.end() :].strip(_PUNCT)
    return None, text.strip(_PUNCT)


def read(text: str, entities: Sequence[ExtractedEntity], expecting: frozenset[str]) -> Reading:
    """Every slot `text` fills. `text` is normalise()d; `entities` were extracted from it."""
    compiled = rules()
    clauses = _clauses(text)
    update = SlotUpdate()
    answer, rest = classify(text)
    reading = Reading(update=update, answer=answer, rest=rest)
    reading.readable = bool(_LETTERS.search(text))
    reading.greeting = bool(compiled.greeting_only.match(text))
    reading.well = bool(compiled.well.search(text))

    said, denied = _symptoms(text, clauses, entities, compiled)
    reading.answer_for = _answer_for(text, answer, rest, entities)
    reading.conflicting = [name for name in said if name in denied]
    update.symptoms = said
    update.denied_symptoms = [name for name in denied if name not in said]  # a stated symptom wins
    history_clauses = _background(text, clauses, entities, expecting, update, compiled)
    update.sites = _sites(text, entities, denied, compiled)
    update.duration = _duration(text, clauses, history_clauses, "duration" in expecting, compiled)
    update.severity = _severity(text, "severity" in expecting, compiled)

    profile = read_profile(text)
    update.age, update.sex, update.pregnant = profile.age, profile.sex, profile.pregnant
    update.subject = profile.subject if profile.subject != "self" else None
    if expecting & {"age", "sex"} and (update.age is None or update.sex is None):
        age, sex = read_answer(text)
        update.age = update.age if update.age is not None else age
        update.sex = update.sex or sex
    if "pregnant" in expecting and update.pregnant is None and answer in ("yes", "no"):
        update.pregnant = answer == "yes"
    other_slot = update.pregnant is not None or any(getattr(update, name) is not None for name in BACKGROUND)
    if reading.answer_for is None and answer in ("yes", "no") and other_slot and _glued(text, rest):
        # "没有怀孕", "没有其他病，不过敏": the no is about what follows, not the symptom asked.
        reading.answer_for = ANOTHER_SLOT
    _answer_list_slot(reading, expecting)
    return reading


def _answer_for(
    text: str, answer: Answer | None, rest: str, entities: Sequence[ExtractedEntity]
) -> str | None:
    if answer not in ("yes", "no") or not _glued(text, rest):
        return None
    start = len(text.rstrip(_PUNCT)) - len(rest)
    for entity in entities:
        if entity.type == "symptom" and entity.start == start:
            return entity.name
    return None


def _glued(text: str, rest: str) -> bool:
    """Whether the words after the message's opening yes or no follow it at once, so it is theirs."""
    if not rest:
        return False
    start = len(text.rstrip(_PUNCT)) - len(rest)  # `rest` ends the message, punctuation aside
    before = text[:start].rstrip(" \t")  # a space glues words as Chinese glues characters: "no fever"
    # "有，还有点发烧", "no, no fever": the yes or no stands alone
    return start > 0 and bool(before) and before[-1] not in _PUNCT


def _negated(before: str, compiled: Compiled) -> bool:
    if compiled.not_cue.search(before):
        return False
    return bool(compiled.zh_negated.search(before) or compiled.en_negated.search(before))


def _symptoms(
    text: str, clauses: list[Clause], entities: Sequence[ExtractedEntity], compiled: Compiled
) -> tuple[list[str], list[str]]:
    said: dict[str, None] = {}
    denied: dict[str, None] = {}
    for clause in clauses:
        found = [e for e in entities if e.type == "symptom" and clause.start <= e.start < clause.end]
        previous_end, previous_negated = clause.start, False
        for index, entity in enumerate(found):
            between = text[previous_end : entity.start]
            negated = _negated(text[clause.start : entity.start] if index == 0 else between, compiled) or (
                previous_negated and bool(compiled.conjunction_only.match(between))
            )
            following = found[index + 1].start if index + 1 < len(found) else clause.end
            if not negated and compiled.negated_after.search(text[entity.end : following]):
                negated = True
            (denied if negated else said)[entity.name] = None
            previous_end, previous_negated = entity.end, negated
    return list(said), list(denied)


def _sites(
    text: str, entities: Sequence[ExtractedEntity], denied: list[str], compiled: Compiled
) -> list[str]:
    # Words that only look like sites ("手术", "头孢"), and denied symptoms ("没有胸痛"), name no site.
    masked = compiled.not_sites.sub(lambda m: "#" * len(m.group(0)), text)
    for entity in entities:
        if entity.type == "symptom" and entity.name in denied:
            masked = masked[: entity.start] + "#" * (entity.end - entity.start) + masked[entity.end :]
    codes = (compiled.site_codes.get(match.group(0).lower()) for match in compiled.sites.finditer(masked))
    return list(dict.fromkeys(code for code in codes if code))


def _amount(raw: str) -> float | None:
    lowered = raw.lower()
    amounts = rules().slots.duration.amounts
    if lowered in amounts:
        return amounts[lowered]
    if lowered in EN_NUMBER_WORDS:
        return float(EN_NUMBER_WORDS[lowered])
    return parse_number(raw)


def _duration(
    text: str, clauses: list[Clause], skip: list[Clause], answering: bool, compiled: Compiled
) -> Duration | None:
    def excluded(start: int, end: int) -> bool:
        if any(c.start <= start < c.end for c in skip):
            return True  # "高血压十年了" dates the past illness, not the complaint
        return bool(
            compiled.duration_not_before.search(text[max(0, start - 8) : start])
            or compiled.duration_not_after.match(text[end : end + 16])
        )

    found: list[tuple[int, int, Duration]] = []
    for match in compiled.duration.finditer(text):
        amount = _amount(match.group("num"))
        unit = compiled.unit_days.get(match.group("unit").lower())
        if amount is None or unit is None or excluded(match.start(), match.end()):
            continue
        halves = (match.group("half") is not None) + (match.group("after") == "半")
        days = round((amount + 0.5 * halves) * unit, 3)
        if 0 < days <= 36500:
            found.append(
                (match.start(), -len(match.group(0)), Duration(text=match.group(0).strip(), days=days))
            )
    phrases = {k.lower(): v for k, v in compiled.slots.duration.phrases.items()}
    for match in compiled.duration_phrases.finditer(text):
        if not excluded(match.start(), match.end()):
            phrase_days = phrases.get(re.sub(r"\s+", " ", match.group(0).lower()))
            found.append(
                (match.start(), -len(match.group(0)), Duration(text=match.group(0), days=phrase_days))
            )
    if found:
        # The first said, and of two at one place the longer: "half a year" is not "a year".
        return min(found, key=lambda item: item[:2])[2]
    vague = compiled.duration_answer_only.search(text) if answering else None
    return Duration(text=vague.group(0)) if vague else None


def _severity(text: str, answering: bool, compiled: Compiled) -> Severity | None:
    digits = re.compile(rf"(?<![\d.])(10|\d)(?:\.\d)?\s*(?:{compiled.score_units})(?!钟)", re.IGNORECASE)
    for pattern in (digits, _CN_SCORE):
        if match := pattern.search(text):
            score = parse_number(match.group(1))
            if score is not None and 0 <= score <= 10:
                return Severity(score=int(score), text=match.group(0).strip())
    # Words said of the complaint anywhere come first: in "精神还可以，中等吧" the severity is "中等".
    for words in (
        (compiled.severity_anywhere, compiled.severity_answer) if answering else (compiled.severity_anywhere,)
    ):
        for match in words.finditer(text):
            before, after = (
                text[max(0, match.start() - 12) : match.start()],
                text[match.end() : match.end() + 6],
            )
            if compiled.severity_not_before.search(before) or compiled.severity_not_after.match(after):
                continue
            return Severity(score=compiled.severity_scores[match.group(0).lower()], text=match.group(0))
    if answering and (bare := _BARE_SCORE.match(text)):
        score = parse_number(bare.group(1))
        if score is not None and score <= 10:
            return Severity(score=int(score), text=text.strip())
    return None


def _items(raw: str) -> list[str]:
    parts = (part.strip(_PUNCT) for part in _LIST_SPLIT.split(raw))
    return [part for part in parts if part and len(part) <= MAX_FREE_ITEM]


def _background(
    text: str,
    clauses: list[Clause],
    entities: Sequence[ExtractedEntity],
    expecting: frozenset[str],
    update: SlotUpdate,
    compiled: Compiled,
) -> list[Clause]:
    """Past illnesses, allergies and medicines, clause by clause; returns the clauses of past illnesses."""
    illnesses: dict[str, None] = {}
    allergies: dict[str, None] = {}
    medicines: dict[str, None] = {}
    denied: set[str] = set()
    history_clauses: list[Clause] = []
    for clause in clauses:
        part = text[clause.start : clause.end]
        inside = [e for e in entities if clause.start <= e.start < clause.end]
        if compiled.allergy.search(part):
            if compiled.allergy_denial.search(part):
                denied.add("allergies")
            else:
                allergies.update(dict.fromkeys(_allergens(part, compiled)))
            continue  # a drug in "青霉素过敏" is an allergen, not a medicine
        if compiled.medication_denial.search(part):
            denied.add("medications")
        else:
            medicines.update(dict.fromkeys(_medicines(part, inside, "medications" in expecting, compiled)))
        if compiled.history_denial.search(part):
            denied.add("past_illnesses")
        found = _illnesses(part, clause, inside, "past_illnesses" in expecting, compiled)
        if found:
            illnesses.update(dict.fromkeys(found))
            history_clauses.append(clause)
    for name, items in (("past_illnesses", illnesses), ("allergies", allergies), ("medications", medicines)):
        if items:
            setattr(update, name, list(items))
        elif name in denied:
            setattr(update, name, [])
    return history_clauses


def _medicines(part: str, inside: list[ExtractedEntity], answering: bool, compiled: Compiled) -> list[str]:
    """Medicines taken, in this clause: see `medication_*` in rules/slots.toml."""
    drugs = [e.surface for e in inside if e.type == "drug"]
    cue = compiled.medication_cue.search(part)
    if drugs and (cue or answering):
        return drugs
    if cue is None:
        return []
    after = part[cue.end() :].strip(_PUNCT)
    if compiled.not_medicine.match(after):
        return []
    named = compiled.medicine_word.search(after)
    if named:
        item = after[: named.end()]
    elif (compiled.medication_strong_cue.search(part) or answering) and len(after) <= MAX_MEDICINE_WORDS:
        item = after
    else:
        return []
    item = re.sub(r"^(?:了|着|点|些|一些|一点|的|过)+|(?:了|呢|啊|的)+$", "", item).strip(_PUNCT)
    return _items(item) if len(item) >= 2 else []


def _allergens(part: str, compiled: Compiled) -> list[str]:
    for pattern in compiled.allergens:
        if match := pattern.search(part):
            raw = match.group(1).strip(_PUNCT)
            # "皮肤过敏" names where, not what: the whole phrase says more than "皮肤".
            if not raw or raw.lower() in compiled.site_codes:
                return [part.strip(_PUNCT)]
            return _items(re.sub(r"^(?:我|有|对|还有|另外|也)+", "", raw)) or [part.strip(_PUNCT)]
    return [part.strip(_PUNCT)]


def _illnesses(
    part: str, clause: Clause, inside: list[ExtractedEntity], answering: bool, compiled: Compiled
) -> list[str]:
    found: list[str] = []
    cue = compiled.history_cue.search(part)
    for entity in inside:
        if entity.type != "disease":
            continue
        before = part[: entity.start - clause.start]
        after = part[entity.end - clause.start :]
        if compiled.history_not_cue.search(before[-6:]):
            continue
        if answering or cue or compiled.history_prefix.search(before) or compiled.history_after.match(after):
            found.append(entity.surface)
    for pattern in compiled.surgeries:
        for match in pattern.finditer(part):
            item = match.group(1).strip(_PUNCT)
            if item and item not in found:
                found.append(item)
    return found


def _answer_list_slot(reading: Reading, expecting: frozenset[str]) -> None:
    """The answer to a question about one list slot, or the three at once, in other words."""
    update = reading.update
    asked = [name for name in ("past_illnesses", "allergies", "medications") if name in expecting]
    if not asked or reading.answer == "skip":
        return
    addressed = [name for name in asked if getattr(update, name) is not None]
    if addressed:
        return  # "没有过敏" answers the allergies only, even when asked about all three
    if reading.answer == "no":
        for name in asked:
            setattr(update, name, [])
        return
    if len(asked) != 1:
        return
    other = update.symptoms or update.denied_symptoms or update.duration or update.severity or update.sites
    free = reading.rest.strip(_PUNCT)
    if free and not other and len(free) <= MAX_FREE_ITEM and bool(_LETTERS.search(free)):
        setattr(update, asked[0], _items(free) or [free])
    elif reading.answer == "yes" and not free:
        reading.vague.append(asked[0])
