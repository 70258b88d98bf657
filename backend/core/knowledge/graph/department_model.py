"""A department classifier learned from the knowledge base itself.

Every disease record that names a department is a labelled example: its name and aliases, its
symptoms (with the everyday words patients use for them), its description and the groups it
affects. A hospital that imports its own knowledge (a disease table with departments) gets a better
model without any code change. The model is multinomial naive Bayes over Chinese character unigrams
and bigrams and English words, with a uniform prior: how many records a department has in the
knowledge base says nothing about how many patients it sees. It is the complement variant (Rennie
et al. 2003: each department is scored by how unlike the *other* departments' records the text is),
which copes with departments of very different sizes: on the CMtMedQA dev split with the 39健康网
table imported, top-1 0.38 against 0.18 for plain multinomial naive Bayes (bench/triage.py).

`predict` returns a posterior over the departments the model knows; the per-feature average of the
weights keeps it from collapsing to 0/1 on long texts (plain naive Bayes is overconfident:
its features are far from independent), so it can be weighed against the other triage signals.
Trained once per knowledge-graph build, in the thread pool; a few milliseconds per hundred records.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from backend.core.knowledge.graph.departments import to_taxonomy
from backend.core.knowledge.graph.diseases import DiseaseRecord
from backend.core.knowledge.graph.graph import KnowledgeGraph, starter_symptom_aliases

SMOOTHING = 0.1  # additive smoothing of feature counts (tuned on the triage dev split)
# How much each field of a record says about its department: names and symptoms most.
FIELD_WEIGHTS = {
    "name": 3.0, "aliases": 2.0, "symptoms": 2.0, "everyday": 1.0, "description": 1.0, "questions": 1.0,
}  # fmt: skip
# Fitted towards calibration on the dev splits: at 0.35 the top department averaged 0.17 while it was
# right six times in ten, so a "confident" model posterior (triage's MODEL_CONFIDENT) almost never
# occurred. At 0.15 it averages 0.48 (CMtMedQA) and 0.37 (Toyhom): still modest, never overconfident.
TEMPERATURE = 0.15
_RUNS = re.compile(r"[\u4e00-\u9fff]+|[a-z]+")


def features(text: str) -> list[str]:
    """Chinese character unigrams and bigrams, English words (lower-case)."""
    found: list[str] = []
    for match in _RUNS.finditer(text.lower()):
        run = match.group(0)
        if run.isascii():
            found.append(run)
            continue
        found.extend(run)
        found.extend(run[i : i + 2] for i in range(len(run) - 1))
    return found


def _record_texts(record: DiseaseRecord, everyday: Mapping[str, tuple[str, ...]]) -> list[tuple[str, float]]:
    texts = [(record.name, FIELD_WEIGHTS["name"])]
    texts += [(alias, FIELD_WEIGHTS["aliases"]) for alias in record.aliases]
    texts += [(symptom, FIELD_WEIGHTS["symptoms"]) for symptom in record.symptoms]
    texts += [(word, FIELD_WEIGHTS["everyday"]) for s in record.symptoms for word in everyday.get(s, ())]
    texts += [(record.description, FIELD_WEIGHTS["description"]), (record.susceptible, 1.0)]
    texts += [(question, FIELD_WEIGHTS["questions"]) for question in record.questions]
    return texts


@dataclass(frozen=True)
class DepartmentModel:
    departments: tuple[str, ...]
    vocabulary: dict[str, int]
    weights: npt.NDArray[np.float32]  # features x departments: -log P(feature | other departments)

    @classmethod
    def train(
        cls, records: Iterable[DiseaseRecord], everyday: Mapping[str, tuple[str, ...]]
    ) -> DepartmentModel:
        counts: dict[str, dict[str, float]] = {}
        for record in records:
            labels = to_taxonomy(record.department)
            if not labels:
                continue
            bag: dict[str, float] = {}
            for text, weight in _record_texts(record, everyday):
                for feature in features(text):
                    bag[feature] = bag.get(feature, 0.0) + weight
            for label in labels:  # a record filed under two departments teaches both, half each
                target = counts.setdefault(label, {})
                for feature, value in bag.items():
                    target[feature] = target.get(feature, 0.0) + value / len(labels)
        names = tuple(sorted(counts))
        vocabulary = {f: i for i, f in enumerate(sorted({f for bag in counts.values() for f in bag}))}
        matrix = np.full((len(vocabulary), len(names)), SMOOTHING, dtype=np.float64)
        for column, name in enumerate(names):
            for feature, value in counts[name].items():
                matrix[vocabulary[feature], column] += value
        # Complement: a feature's weight for a department comes from every other department's counts.
        complement = matrix.sum(axis=1, keepdims=True) - matrix
        complement /= complement.sum(axis=0, keepdims=True)
        return cls(names, vocabulary, (-np.log(complement)).astype(np.float32))

    def predict(self, text: str) -> dict[str, float]:
        """P(department | text) over the departments the model knows; empty when nothing is known."""
        rows = [index for f in features(text) if (index := self.vocabulary.get(f)) is not None]
        if not rows or not self.departments:
            return {}
        mean = self.weights[rows].mean(axis=0, dtype=np.float64) / TEMPERATURE
        mean -= mean.max()
        posterior = np.exp(len(rows) ** 0.5 * mean)  # more evidence, sharper; sqrt: features overlap
        posterior /= posterior.sum()
        return {name: float(p) for name, p in zip(self.departments, posterior, strict=True)}


_models: weakref.WeakKeyDictionary[KnowledgeGraph, DepartmentModel] = weakref.WeakKeyDictionary()
_training = threading.Lock()


def model_for(graph: KnowledgeGraph) -> DepartmentModel:
    """The model of this graph, trained on first use (blocking: call it in the thread pool).

    One per graph object, so a knowledge-base update (a new graph) retrains it; concurrent first
    calls train once. The graph's symptom aliases (the everyday words) are the starter's."""
    model = _models.get(graph)
    if model is None:
        with _training:
            model = _models.get(graph)
            if model is None:
                model = DepartmentModel.train(graph.records(), starter_symptom_aliases())
                _models[graph] = model
    return model
