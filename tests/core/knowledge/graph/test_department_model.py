"""The department model learned from the starter knowledge base: its posteriors mean something."""

from __future__ import annotations

import pytest

from backend.core.knowledge.graph.department_model import DepartmentModel
from backend.core.knowledge.graph.diseases import starter_diseases
from backend.core.knowledge.graph.graph import starter_symptom_aliases
from backend.patient.services.triage import MODEL_CONFIDENT


@pytest.fixture(scope="module")
def model() -> DepartmentModel:
    return DepartmentModel.train(starter_diseases(), starter_symptom_aliases())


@pytest.mark.parametrize(
    ("complaint", "department"),
    [
        ("牙疼，牙龈肿了，吃东西更疼", "口腔科"),
        ("最近心情很低落，晚上睡不着", "精神心理科"),
        ("想割双眼皮", "医疗美容科"),
    ],
)
def test_a_clear_complaint_gets_a_confident_posterior(
    model: DepartmentModel, complaint: str, department: str
) -> None:
    """Right about six times in ten on real complaints, the model must be able to say so: a posterior
    that never reaches MODEL_CONFIDENT makes the model's own pointing (triage.decide) dead code."""
    posterior = model.predict(complaint)
    assert max(posterior, key=posterior.__getitem__) == department
    assert posterior[department] >= 0.5
    assert abs(sum(posterior.values()) - 1) < 1e-6


def test_a_vague_complaint_points_nowhere_on_its_own(model: DepartmentModel) -> None:
    assert max(model.predict("就是觉得身体不太对劲").values()) < MODEL_CONFIDENT
    assert model.predict("😀😀😀") == {}
