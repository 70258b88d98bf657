"""The medical knowledge graph: typed entities and the relations between them, built from disease records.

Every relation starts at a disease, so a relation is stored as a tuple of target names per disease id
(one dict per relation) and its reverse as a tuple of disease ids per target key. There is no object
per edge: an imported table of ~15k diseases has ~400k edges, and each costs two pointers. The names
in the tuples are the records' own strings, not copies.

Lookups go through `name_key()`: full-width forms folded, stripped, lower-cased. Chinese is unaffected,
English becomes case-insensitive.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final, Literal, get_args

from backend.core.knowledge.graph.departments import departments
from backend.core.knowledge.graph.diseases import STARTER_DIR, DiseaseRecord
from backend.core.knowledge.graph.records import RecordFiles

EntityType = Literal["disease", "symptom", "drug", "check", "department", "food", "complication"]
ENTITY_TYPES: Final[tuple[EntityType, ...]] = get_args(EntityType)

Relation = Literal[
    "has_symptom", "common_drug", "need_check", "belongs_to", "recommended_food", "avoid_food",
    "has_complication",
]  # fmt: skip
RELATIONS: Final[tuple[Relation, ...]] = get_args(Relation)

# Relation -> (record field, target entity type). `belongs_to` reads `department`, a string, not a list.
RELATION_TARGETS: Final[dict[Relation, tuple[str, EntityType]]] = {
    "has_symptom": ("symptoms", "symptom"),
    "common_drug": ("drugs", "drug"),
    "need_check": ("checks", "check"),
    "belongs_to": ("department", "department"),
    "recommended_food": ("foods_recommended", "food"),
    "avoid_food": ("foods_avoid", "food"),
    "has_complication": ("complications", "complication"),
}

# Imported tables write several departments in one cell ("内科 消化内科", "儿科、皮肤科").
_DEPARTMENT_SPLIT = re.compile(r"[\s,，、/;；]+")
# How fast a symptom's weight falls with its rank in a disease's list: 1, 0.8, 0.67 ... 0.36 (8th).
SYMPTOM_RANK_DECAY = 0.25
# Full-width ASCII (common in Chinese input methods) to ASCII, and typographic apostrophes to "'".
# Each maps one character to one, so offsets in a folded text are offsets in the original.
_WIDE_TO_ASCII: Final[dict[int, int]] = {
    **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)},
    0x3000: 0x20,
    0x2019: 0x27,
    0x2018: 0x27,
}


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation as ASCII; same length as `text`."""
    return text.translate(_WIDE_TO_ASCII)


def lower_same_length(text: str) -> str:
    """Lower-case without changing the length, so match offsets stay valid for the original text."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    # A few characters (e.g. "İ") lower-case to two; keep those as they are.
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


def name_key(name: str) -> str:
    """The lookup key of an entity name or alias."""
    return lower_same_length(fold_width(name.strip()))


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    type: EntityType
    id: str = ""  # the disease id; empty for other types
    name_en: str = ""
    aliases: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def starter_department_names_en() -> Mapping[str, str]:
    """English names of the taxonomy's departments, by Chinese name."""
    return {department.name: department.name_en for department in departments()}


@lru_cache(maxsize=1)
def starter_symptom_aliases() -> Mapping[str, tuple[str, ...]]:
    """Everyday words patients use for the graph's symptoms (拉肚子 for 腹泻), by canonical name."""
    forms: dict[str, list[str]] = {}
    # Several reviewed files (symptom_aliases*.json), one per area, merged: a name may appear in more.
    for path in sorted(STARTER_DIR.glob("symptom_aliases*.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))
        for name, words in rows.items():
            if not name.startswith("_"):
                forms.setdefault(name, []).extend(w for w in words if w not in forms.get(name, []))
    return {name: tuple(words) for name, words in forms.items()}


_first = itemgetter(0)
_second = itemgetter(1)


class _Keys(dict[str, tuple[str, str]]):
    """Raw value -> (stripped text, lookup key), computed once per distinct string.

    Imported tables repeat the same few thousand names hundreds of thousands of times; folding each
    occurrence again was most of the build time.
    """

    def __missing__(self, raw: str) -> tuple[str, str]:
        text = raw.strip()
        value = (text, name_key(text))
        self[raw] = value
        return value


def _department_aliases(name_en: str) -> tuple[str, ...]:
    # "Otorhinolaryngology (ENT)" is written for display; questions say "otorhinolaryngology" or "ENT".
    main, _, rest = name_en.partition(" (")
    aliases = [main.strip()] if main.strip() else []
    inner = rest.rstrip(")").strip()
    if inner:
        aliases.append(inner)
    return tuple(aliases)


class KnowledgeGraph:
    """Read-only after `build()`; safe to share between threads."""

    def __init__(self) -> None:
        # During build a plain dict; `keep_records_in()` may then hand them to an on-disk mapping.
        self._records: Mapping[str, DiseaseRecord] | RecordFiles = {}
        self._disease_keys: dict[str, str] = {}  # name / name_en / alias key -> disease id
        self._disease_entities: dict[str, Entity] = {}  # by disease id
        self._entities: dict[EntityType, dict[str, Entity]] = {t: {} for t in ENTITY_TYPES if t != "disease"}
        self._forward: dict[Relation, dict[str, tuple[str, ...]]] = {r: {} for r in RELATIONS}
        self._reverse: dict[Relation, dict[str, tuple[str, ...]]] = {r: {} for r in RELATIONS}
        self._complication_links: dict[str, tuple[str, ...]] = {}  # disease id -> complication disease ids
        self._complication_of: dict[str, tuple[str, ...]] = {}  # disease id -> ids listing it as complication
        self._symptoms_by_en: dict[str, tuple[str, ...]] = {}  # English key -> symptom keys, commonest first
        self._idf: dict[str, float] = {}  # symptom key -> idf
        # disease id -> symptom key -> how central the symptom is to the disease (its listed rank)
        self._symptom_rank_weight: dict[str, dict[str, float]] = {}
        self._symptom_norm: dict[str, float] = {}  # disease id -> L2 norm of its weighted symptoms
        self._stats: dict[str, int] = {}

    # ------------------------------------------------------------------ build

    @classmethod
    def build(
        cls, records: Iterable[DiseaseRecord], department_names_en: Mapping[str, str] | None = None
    ) -> KnowledgeGraph:
        """Build from disease records; `department_names_en` defaults to the starter department table.

        A record whose id was already seen is skipped (first wins), so re-listing a record is harmless.
        Items are stripped and empty ones dropped; names differing only in case or width are one entity,
        spelt as first seen.
        """
        graph = cls()
        departments_en = starter_department_names_en() if department_names_en is None else department_names_en
        keys = _Keys()
        spelling: dict[Relation, dict[str, str]] = {r: {} for r in RELATIONS}  # key -> first spelling
        forward: dict[Relation, dict[str, tuple[str, ...]]] = {r: {} for r in RELATIONS}
        reverse: dict[Relation, dict[str, list[str]]] = {r: {} for r in RELATIONS}
        en_pairs: Counter[tuple[str, str]] = Counter()  # (symptom key, English spelling)
        en_first: dict[str, str] = {}  # English key -> the spelling seen first

        # This loop runs once per edge (~400k for an imported table), so it leans on C-level helpers
        # and touches each edge once in Python.
        plan = [(RELATION_TARGETS[r][0], spelling[r], forward[r], reverse[r]) for r in RELATIONS]
        by_id_records: dict[str, DiseaseRecord] = {}
        graph._records = by_id_records
        for record in records:
            disease_id = record.id
            if disease_id in by_id_records:
                continue
            by_id_records[disease_id] = record
            for field, first, by_id, backward in plan:
                raw = getattr(record, field)
                if not raw:
                    continue
                pairs = list(
                    map(keys.__getitem__, _DEPARTMENT_SPLIT.split(raw) if isinstance(raw, str) else raw)
                )
                unique = dict(zip(map(_second, pairs), map(_first, pairs), strict=True))  # key -> text
                if len(unique) != len(pairs):
                    # Imported tables repeat items within a record: keep the first spelling of each.
                    unique = {}
                    for text, key in pairs:
                        unique.setdefault(key, text)
                unique.pop("", None)
                if not unique:
                    continue
                by_id[disease_id] = tuple(unique.values())
                for key, text in unique.items():
                    ids = backward.get(key)
                    if ids is None:
                        backward[key] = [disease_id]
                        first[key] = text
                    else:
                        ids.append(disease_id)
            # symptoms_en is parallel to symptoms; a list of another length is misaligned, so it is not used.
            if record.symptoms_en and len(record.symptoms_en) == len(record.symptoms):
                for zh, en in zip(record.symptoms, record.symptoms_en, strict=True):
                    zh_key, (en_text, en_key) = keys[zh][1], keys[en]
                    if zh_key and en_key:
                        en_pairs[(zh_key, en_first.setdefault(en_key, en_text))] += 1

        graph._forward = forward
        graph._reverse = {r: {k: tuple(v) for k, v in by_key.items()} for r, by_key in reverse.items()}
        graph._index_diseases(keys)
        by_type: dict[EntityType, dict[str, str]] = {t: {} for t in ENTITY_TYPES}
        for relation, (_, entity_type) in RELATION_TARGETS.items():
            for key, text in spelling[relation].items():
                by_type[entity_type].setdefault(key, text)
        graph._index_entities(by_type, en_pairs, departments_en)
        graph._link_complications(keys)
        graph._weigh_symptoms(keys)
        # Counted once here, not by every worker that loads the snapshot (~30 ms with MedQuAD).
        graph._stats = graph._count()
        return graph

    def _index_diseases(self, keys: _Keys) -> None:
        # Names first, then English names, then aliases: a disease's own name is never taken by another
        # disease's alias, whatever the order of the records.
        for attribute in ("name", "name_en"):
            for record in self._records.values():
                if key := keys[getattr(record, attribute)][1]:
                    self._disease_keys.setdefault(key, record.id)
        for record in self._records.values():
            for alias in record.aliases:
                if key := keys[alias][1]:
                    self._disease_keys.setdefault(key, record.id)
        for record in self._records.values():
            seen = {keys[record.name][1], keys[record.name_en][1]}
            aliases: list[str] = []
            for alias in record.aliases:
                text, key = keys[alias]
                if key and key not in seen:
                    seen.add(key)
                    aliases.append(text)
            self._disease_entities[record.id] = Entity(
                record.name.strip(), "disease", record.id, record.name_en.strip(), tuple(aliases)
            )

    def _index_entities(
        self,
        spelling: dict[EntityType, dict[str, str]],
        en_pairs: Counter[tuple[str, str]],
        departments_en: Mapping[str, str],
    ) -> None:
        english: dict[str, list[tuple[int, str]]] = {}  # symptom key -> (count, English spelling)
        by_en: dict[str, list[tuple[int, str]]] = {}  # English key -> (count, symptom key)
        for (zh_key, en), count in en_pairs.items():  # Counter keeps first-seen order: ties stay stable
            english.setdefault(zh_key, []).append((count, en))
            by_en.setdefault(name_key(en), []).append((count, zh_key))
        self._symptoms_by_en = {
            en_key: tuple(zh_key for _, zh_key in sorted(pairs, key=lambda p: -p[0]))
            for en_key, pairs in by_en.items()
        }
        for entity_type, table in self._entities.items():
            for key, name in spelling[entity_type].items():
                if entity_type == "symptom":
                    forms = tuple(en for _, en in sorted(english.get(key, []), key=lambda p: -p[0]))
                    everyday = starter_symptom_aliases().get(name, ())
                    table[key] = Entity(name, "symptom", "", forms[0] if forms else "", forms + everyday)
                elif entity_type == "department":
                    name_en = departments_en.get(name, "")
                    table[key] = Entity(name, "department", "", name_en, _department_aliases(name_en))
                else:
                    table[key] = Entity(name, entity_type)

    def _link_complications(self, keys: _Keys) -> None:
        links: dict[str, list[str]] = {}
        of: dict[str, list[str]] = {}
        for disease_id, complications in self._forward["has_complication"].items():
            for name in complications:
                target = self._disease_keys.get(keys[name][1])
                if target is not None and target != disease_id and target not in links.get(disease_id, ()):
                    links.setdefault(disease_id, []).append(target)
                    of.setdefault(target, []).append(disease_id)
        self._complication_links = {k: tuple(v) for k, v in links.items()}
        self._complication_of = {k: tuple(v) for k, v in of.items()}

    def _weigh_symptoms(self, keys: _Keys) -> None:
        # Smoothed IDF: a symptom most diseases share (乏力) says little about which disease it is.
        total = max(len(self._records), 1)
        self._idf = {
            key: math.log(1.0 + total / len(ids)) for key, ids in self._reverse["has_symptom"].items()
        }
        # A record lists a disease's cardinal symptoms first: fever and headache say influenza more
        # than they say chickenpox, which lists them after its rash.
        self._symptom_rank_weight = {}
        for disease_id, symptoms in self._forward["has_symptom"].items():
            weights: dict[str, float] = {}
            for rank, symptom in enumerate(symptoms):
                weights.setdefault(keys[symptom][1], 1.0 / (1.0 + SYMPTOM_RANK_DECAY * rank))
            self._symptom_rank_weight[disease_id] = weights
        self._symptom_norm = {
            disease_id: math.sqrt(sum((self._idf[key] * w) ** 2 for key, w in weights.items()))
            for disease_id, weights in self._symptom_rank_weight.items()
        }

    # ---------------------------------------------------------------- lookups

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> Iterator[DiseaseRecord]:
        return iter(self._records.values())

    def record(self, disease_id: str) -> DiseaseRecord | None:
        return self._records.get(disease_id)

    def disease(self, name_or_alias: str) -> DiseaseRecord | None:
        """The disease with this name, English name or alias (English case-insensitively)."""
        disease_id = self._disease_keys.get(name_key(name_or_alias))
        return None if disease_id is None else self._records[disease_id]

    def entity(self, entity_type: EntityType, name: str) -> Entity | None:
        """The entity of this type and name (diseases also by English name or alias)."""
        if entity_type == "disease":
            disease_id = self._disease_keys.get(name_key(name))
            return None if disease_id is None else self._disease_entities[disease_id]
        return self._entities[entity_type].get(name_key(name))

    def entities(self, entity_type: EntityType | None = None) -> Iterator[Entity]:
        """All entities, or those of one type; diseases first, then in build order."""
        for kind in ENTITY_TYPES if entity_type is None else (entity_type,):
            table = self._disease_entities if kind == "disease" else self._entities[kind]
            yield from table.values()

    def related(self, disease_id: str, relation: Relation) -> tuple[str, ...]:
        """The target names of one relation of one disease, in the record's order."""
        return self._forward[relation].get(disease_id, ())

    def keep_records_in(self, records: RecordFiles) -> None:
        """Serve records from `records` (on disk) instead of holding them; it must hold the same ids."""
        self._records = records

    def diseases_related(
        self, relation: Relation, target: str, limit: int | None = None
    ) -> list[DiseaseRecord]:
        """Reverse lookup: the diseases with a `relation` edge to `target`, in build order."""
        ids = self._reverse[relation].get(name_key(target), ())
        return [self._records[i] for i in (ids if limit is None else ids[:limit])]

    def diseases_for_drug(self, drug: str, limit: int | None = None) -> list[DiseaseRecord]:
        return self.diseases_related("common_drug", drug, limit)

    def diseases_for_check(self, check: str, limit: int | None = None) -> list[DiseaseRecord]:
        return self.diseases_related("need_check", check, limit)

    def complication_diseases(self, disease_id: str) -> list[DiseaseRecord]:
        """The complications of a disease that are diseases of the graph themselves."""
        return [self._records[i] for i in self._complication_links.get(disease_id, ())]

    def complication_of(self, disease_id: str) -> list[DiseaseRecord]:
        """The diseases that list this disease (by name or alias) as a complication."""
        return [self._records[i] for i in self._complication_of.get(disease_id, ())]

    def name_en(self, entity_type: EntityType, name: str) -> str:
        """The English name of an entity, or "" when the data has none."""
        entity = self.entity(entity_type, name)
        return "" if entity is None else entity.name_en

    def symptom_idf(self, symptom: str) -> float:
        return self._idf.get(name_key(symptom), 0.0)

    def resolve_symptom(self, term: str) -> tuple[str, ...]:
        """The symptom names a term stands for: itself, or the Chinese symptoms an English form names."""
        return tuple(self._entities["symptom"][key].name for key in self._resolve_symptom(term))

    def _resolve_symptom(self, term: str) -> tuple[str, ...]:
        key = name_key(term)
        if key in self._idf:
            return (key,)
        # An English symptom can name several Chinese ones ("sweating": 出汗, 多汗); a disease listing any
        # of them matches.
        return self._symptoms_by_en.get(key, ())

    def diseases_with_symptoms(
        self, symptoms: Iterable[str], limit: int | None = None
    ) -> list[tuple[DiseaseRecord, float]]:
        """Diseases ranked by how well their symptoms match, best first, with a score in (0, 1].

        The score is the cosine between IDF-weighted symptom sets, a disease's symptoms also weighted by
        their rank in its record (cardinal symptoms first): rare shared symptoms count most, and a
        disease is not favoured merely for listing many symptoms. Symptoms may be Chinese names or
        English forms; unknown ones are ignored. Ties are broken by name, then id, for stable output.
        """
        terms: list[tuple[str, ...]] = []
        seen: set[tuple[str, ...]] = set()
        for symptom in symptoms:
            resolved = self._resolve_symptom(symptom)
            if resolved and resolved not in seen:
                seen.add(resolved)
                terms.append(resolved)
        if not terms:
            return []
        query_norm_sq = 0.0
        # disease id -> best idf per term
        matched: dict[str, dict[int, float]] = {}
        for index, resolved in enumerate(terms):
            query_norm_sq += max(self._idf[z] for z in resolved) ** 2
            for key in resolved:
                idf = self._idf[key]
                for disease_id in self._reverse["has_symptom"][key]:
                    # (query weight) x (disease weight): idf on both sides, the rank on the disease's
                    weight = idf * idf * self._symptom_rank_weight[disease_id][key]
                    per_term = matched.setdefault(disease_id, {})
                    if weight > per_term.get(index, 0.0):
                        per_term[index] = weight
        query_norm = math.sqrt(query_norm_sq)
        scored = [
            (disease_id, sum(per_term.values()) / (query_norm * self._symptom_norm[disease_id]))
            for disease_id, per_term in matched.items()
        ]
        # Ranked by ids and names held in memory, so only the records returned are read.
        scored.sort(key=lambda pair: (-pair[1], self._disease_entities[pair[0]].name, pair[0]))
        return [(self._records[i], score) for i, score in (scored if limit is None else scored[:limit])]

    # ------------------------------------------------------------ card, stats

    def _relation_item(self, entity_type: EntityType, name: str) -> dict[str, Any]:
        return {"name": name, "type": entity_type, "name_en": self.name_en(entity_type, name)}

    def card(self, name_or_alias: str) -> dict[str, Any] | None:
        """The disease card: every record field plus its relations by relation name; JSON-serialisable.

        Complications that are diseases of the graph carry `disease_id` and `disease` (else null).
        """
        record = self.disease(name_or_alias)
        if record is None:
            return None
        relations: dict[str, list[dict[str, Any]]] = {}
        for relation, (_, entity_type) in RELATION_TARGETS.items():
            items = [self._relation_item(entity_type, n) for n in self.related(record.id, relation)]
            if relation == "has_complication":
                for item in items:
                    linked = self.disease(item["name"])
                    if linked is not None and linked.id == record.id:
                        linked = None  # a record naming itself is not a link
                    item["disease_id"] = None if linked is None else linked.id
                    item["disease"] = None if linked is None else linked.name
            relations[relation] = items
        return {
            **record.model_dump(mode="json"),
            "relations": relations,
            "complication_of": [{"id": r.id, "name": r.name} for r in self.complication_of(record.id)],
        }

    def stats(self) -> dict[str, int]:
        """Entities per type, `entities` in all, `relations` in all and per relation name."""
        return dict(self._stats or self._count())

    def _count(self) -> dict[str, int]:
        counts: dict[str, int] = {"disease": len(self._disease_entities)}
        counts.update((t, len(table)) for t, table in self._entities.items())
        counts["entities"] = sum(counts[t] for t in ENTITY_TYPES)
        for relation in RELATIONS:
            counts[relation] = sum(len(v) for v in self._forward[relation].values())
        counts["complication_is_disease"] = sum(len(v) for v in self._complication_links.values())
        counts["relations"] = sum(counts[r] for r in RELATIONS) + counts["complication_is_disease"]
        return counts
