"""Reading and checking the red-flag data files, and compiling them into a Rulebook.

backend/patient/rules/red_flags/ holds one file per class of emergency (its name is the flag's
code), plus _general.toml (the advice every emergency starts with, the order of the flags, how
denials are said, shared pattern fragments) and _shared.toml (concepts several files use). A file
that does not parse, does not fit the schema, names a concept, fragment or flag that does not exist,
holds a pattern that does not compile, defines a concept no rule uses, or could fire on what the
caller knows alone is refused with a RuleFileError naming the file and the rule or concept:
the service does not start with rules it cannot trust.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Final, TypeVar

from pydantic import BaseModel

from backend.core.rules import RulesError, load_rules
from backend.patient.services.red_flags.matcher import Concept, Flag, RedFlag, Rule, Rulebook
from backend.patient.services.red_flags.schema import (
    ConceptSpec,
    FlagFile,
    GeneralFile,
    RuleSpec,
    SharedFile,
)
from backend.patient.services.red_flags.text import Negation, normalise

RULES_DIR: Final = Path(__file__).resolve().parents[2] / "rules" / "red_flags"
GENERAL: Final = "_general.toml"
SHARED: Final = "_shared.toml"

_FRAGMENT: Final = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_CJK: Final = re.compile(r"[\u3400-\u9fff]")
Spec = TypeVar("Spec", bound=BaseModel)


class RuleFileError(RulesError):
    """A red-flag data file that cannot be used; the message names the file and the place."""


def _read(path: Path, model: type[Spec]) -> Spec:
    try:
        return load_rules(path, model)
    except RulesError as exc:
        raise RuleFileError(str(exc)) from None


class _Compiler:
    def __init__(self, fragments: Mapping[str, str]) -> None:
        self._fragments = dict(fragments)

    def expand(self, pattern: str, where: str, depth: int = 0) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self._fragments:
                raise RuleFileError(f"{where}: uses the fragment {{{name}}}, which {GENERAL} does not define")
            return self.expand(self._fragments[name], where, depth + 1)

        if depth > 5:
            raise RuleFileError(f"{where}: fragments nest more than 5 deep (one may include itself)")
        return _FRAGMENT.sub(replace, pattern)

    def compile(
        self, terms: list[str], patterns: list[str], where: str, english: bool
    ) -> re.Pattern[str] | None:
        """One alternation of a concept's terms and patterns in one language; None if it has none."""
        parts = terms + patterns
        if not parts:
            return None
        body = "|".join(f"(?:{part})" for part in parts)
        # ASCII-only boundaries for English: `\b` would take Chinese characters as word
        # characters and miss English typed straight after Chinese ("我chest pain").
        pattern = rf"(?<![a-z0-9'])(?:{body})(?![a-z0-9])" if english else body
        try:
            return re.compile(pattern)
        except re.error as exc:
            # Compiling each pattern alone only when the whole fails: compiling is most of the load time.
            language = "en" if english else "zh"
            for index, part in enumerate(patterns, start=1):
                try:
                    re.compile(part)
                except re.error as bad:
                    problem = f"{where}: {language}_regex {index} does not compile: {bad}"
                    raise RuleFileError(problem) from None
            raise RuleFileError(f"{where}: the {language} patterns do not compile together: {exc}") from None

    def concept(self, name: str, spec: ConceptSpec, file: str) -> Concept:
        where = f"{file}: concept {name}"
        for term in spec.zh:
            if not _CJK.search(term):
                raise RuleFileError(f"{where}: zh term {term!r} has no Chinese character; put it under en")
        languages = {}
        for language in ("zh", "en"):
            terms = [re.escape(normalise(term)) for term in getattr(spec, language)]
            patterns = [
                normalise(self.expand(pattern, f"{where}: {language}_regex {index}"))
                for index, pattern in enumerate(getattr(spec, f"{language}_regex"), start=1)
            ]
            languages[language] = self.compile(terms, patterns, where, english=language == "en")
        normalised = spec.model_copy(
            update={
                "not_after": tuple(normalise(word) for word in spec.not_after),
                "not_before": tuple(normalise(word) for word in spec.not_before),
            }
        )
        return Concept(f"{file}:{name}", normalised, languages["zh"], languages["en"])


def _rule(rule: RuleSpec, index: int, file: str, concepts: Mapping[str, Concept]) -> Rule:
    where = f"{file}: rule {index}"
    for name in sorted(rule.concept_names()):
        if name not in concepts:
            raise RuleFileError(
                f"{where}: uses the concept {name!r}, which neither {file} nor {SHARED} defines"
            )
    groups = tuple(tuple(concepts[name] for name in group) for group in rule.groups())
    if all(
        any(concept.spec.is_context and not concept.spec.has_text for concept in group) for group in groups
    ):
        raise RuleFileError(f"{where}: could fire on the patient's age or pregnancy alone, with nothing said")
    return Rule(groups, tuple(concepts[name] for name in rule.unless), rule.within == "sentence")


def _check_replaces(specs: Mapping[str, FlagFile]) -> None:
    for code, spec in specs.items():
        for other in spec.replaces:
            if other not in specs or other == code:
                raise RuleFileError(f"{code}.toml: replaces {other!r}, which is not another flag")
    for code in specs:  # a cycle would drop every flag in it
        seen: set[str] = set()
        todo = list(specs[code].replaces)
        while todo:
            other = todo.pop()
            if other == code:
                raise RuleFileError(f"{code}.toml: replaces a flag that, in turn, replaces {code}")
            if other not in seen:
                seen.add(other)
                todo.extend(specs[other].replaces)


def load_rulebook(directory: Path = RULES_DIR) -> Rulebook:
    """The rules in `directory`, checked and compiled; RuleFileError names what is wrong."""
    general = _read(directory / GENERAL, GeneralFile)
    shared = _read(directory / SHARED, SharedFile).concepts if (directory / SHARED).exists() else {}
    paths = sorted(directory.glob("*.toml"))
    unknown = [
        path.name for path in paths if path.name.startswith("_") and path.name not in (GENERAL, SHARED)
    ]
    if unknown:
        raise RuleFileError(f"{unknown[0]}: unknown file (only {GENERAL} and {SHARED} start with _)")
    specs: dict[str, FlagFile] = {}
    for path in paths:
        if path.name.startswith("_"):
            continue
        spec = _read(path, FlagFile)
        if spec.code != path.stem:
            raise RuleFileError(f"{path.name}: code is {spec.code!r}; a flag's file is named after its code")
        specs[spec.code] = spec
    if not specs:
        raise RuleFileError(f"{directory}: holds no red-flag file")
    order = general.order
    missing = [code for code in specs if code not in order]
    extra = [code for code in order if code not in specs]
    if missing or extra or len(set(order)) != len(order):
        detail = (
            f"missing {missing}" if missing else f"unknown {extra}" if extra else "a code is listed twice"
        )
        raise RuleFileError(f"{GENERAL}: order must list every flag file once: {detail}")
    _check_replaces(specs)

    compiler = _Compiler(general.fragments)
    for name, pattern in general.fragments.items():
        compiler.expand(pattern, f"{GENERAL}: fragment {name}")
    common = {name: compiler.concept(name, spec, SHARED) for name, spec in shared.items()}
    used: set[str] = set()
    flags = []
    for code in order:
        spec = specs[code]
        file = f"{code}.toml"
        clash = sorted(set(spec.concepts) & set(common))
        if clash:
            raise RuleFileError(f"{file}: concept {clash[0]!r} is also defined in {SHARED}")
        own = {name: compiler.concept(name, concept, file) for name, concept in spec.concepts.items()}
        concepts = common | own
        rules = tuple(_rule(rule, index, file, concepts) for index, rule in enumerate(spec.rule, start=1))
        names = set().union(*(rule.concept_names() for rule in spec.rule))
        unused = sorted(set(own) - names)
        if unused:
            raise RuleFileError(f"{file}: concept {unused[0]!r} is not used by any rule")
        used |= names
        flag = RedFlag(spec.code, spec.name, spec.name_en, spec.advice, spec.advice_en)
        flags.append(Flag(flag, rules, frozenset(spec.replaces)))
    unused_shared = sorted(set(common) - used)
    if unused_shared:
        raise RuleFileError(f"{SHARED}: concept {unused_shared[0]!r} is not used by any rule")
    advice = general.emergency_advice
    return Rulebook(tuple(flags), {"zh": advice.zh, "en": advice.en}, Negation(general.negation))


@lru_cache(maxsize=1)
def rulebook() -> Rulebook:
    """The product's rules, compiled once per process on first use."""
    return load_rulebook(RULES_DIR)
