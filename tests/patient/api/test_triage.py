"""POST /api/v1/triage and GET /api/v1/departments, on the starter knowledge base."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.core.knowledge.graph.departments import departments
from backend.core.knowledge.service import KnowledgeService
from backend.core.knowledge.store.documents import Document
from tests.support.clients import MakeClient


def _triage(client: TestClient, complaint: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/triage", json={"complaint": complaint, **extra})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("complaint", "department"),
    [
        ("我咳嗽三天了，有点发烧，喉咙痛", "呼吸内科"),
        ("皮肤很痒，起了红疹", "皮肤科"),
        ("膝盖疼，上下楼梯更明显", "骨科"),
        ("I have had a cough and fever for three days", "Respiratory Medicine"),
    ],
)
def test_a_complaint_is_sent_to_the_department_that_treats_it(
    client: TestClient, complaint: str, department: str
) -> None:
    result = _triage(client, complaint)
    assert result["departments"][0]["name"] == department
    assert result["emergency"] is False
    assert result["possible_conditions"]
    assert department in result["advice"]
    assert result["disclaimer"]


def test_department_names_come_from_the_taxonomy(client: TestClient) -> None:
    listed = client.get("/api/v1/departments").json()["departments"]
    names = {d["name"] for d in listed} | {d["name_en"] for d in listed}  # English answers use name_en
    assert names == {d.name for d in departments()} | {d.name_en for d in departments()}
    for complaint in ["头晕，血压高", "月经不规律，下腹痛", "孩子拉肚子两天", "my eyes are red and itchy"]:
        assert {d["name"] for d in _triage(client, complaint)["departments"]} <= names


@pytest.mark.parametrize(
    "complaint",
    ["胸口疼，出冷汗，喘不上气", "I suddenly can't move my right arm and my speech is slurred", "我不想活了"],
)
def test_a_red_flag_makes_it_an_emergency_first_whatever_else_is_said(
    client: TestClient, complaint: str
) -> None:
    result = _triage(client, f"{complaint}。另外最近皮肤有点痒。")
    assert result["emergency"] is True
    assert result["red_flags"]
    assert result["departments"][0]["name"] == "急诊科"
    assert "120" in result["advice"]


def test_children_see_paediatrics_first_and_men_are_not_sent_to_gynaecology(client: TestClient) -> None:
    assert _triage(client, "咳嗽，发热", age=4)["departments"][0]["name"] == "儿科"
    men = _triage(client, "下腹痛", sex="male")["departments"]
    assert not {d["name"] for d in men} & {"妇科", "产科"}


def test_nothing_recognisable_is_sent_to_general_practice_without_guessing_a_condition(
    client: TestClient,
) -> None:
    result = _triage(client, "就是觉得不太对劲")
    assert [d["name"] for d in result["departments"]] == ["全科医学科"]
    assert result["weak"] is True
    assert result["possible_conditions"] == []
    assert "全科医学科" in result["advice"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"complaint": ""},
        {"complaint": "x" * 1001},
        {"complaint": "头痛", "age": -1},
        {"complaint": "头痛", "sex": "x"},
    ],
)
def test_bad_input_gets_a_json_error(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/api/v1/triage", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_absurdly_nested_json_is_a_clear_400_not_a_crash(client: TestClient) -> None:
    nested = b'{"complaint": "\xe5\xa4\xb4\xe7\x97\x9b", "age": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = client.post("/api/v1/triage", content=nested, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert client.post("/api/v1/triage", json={"complaint": "头痛"}).status_code == 200  # still serving


def test_a_store_deleted_by_another_process_is_skipped_not_a_500(make_client: MakeClient) -> None:
    client = make_client()
    knowledge: KnowledgeService = client.app.state.knowledge  # type: ignore[attr-defined]
    document = Document(id="note-1", title="本院咳嗽门诊", text="本院咳嗽门诊在门诊楼三层。")
    knowledge.indexer.upsert("hospital", [document])
    assert client.portal is not None
    client.portal.call(knowledge.refresh)
    # Listed in this worker but not loaded yet, when the doctor service deletes it.
    knowledge.repository.delete_store("hospital")
    response = client.post("/api/v1/triage", json={"complaint": "咳嗽三天"})
    assert response.status_code == 200
    assert response.json()["departments"]


@pytest.mark.parametrize(
    ("complaint", "department", "condition"),
    [
        ("头痛，发热两天", "呼吸内科", "流行性感冒"),  # not the rash disease whose text mentions both
        ("腰痛，尿里有血", None, "泌尿系结石"),  # a stone before any cancer
        ("I have a rash that itches", "Dermatology", None),
    ],
)
def test_common_complaints_go_where_a_triage_nurse_would_send_them(
    client: TestClient, complaint: str, department: str | None, condition: str | None
) -> None:
    result = client.post("/api/v1/triage", json={"complaint": complaint}).json()
    departments = [d["name"] for d in result["departments"]]
    conditions = [c["name"] for c in result["possible_conditions"]]
    if department:
        assert departments[0] == department
    if condition:
        assert conditions[0] == condition
    assert departments[0] not in ("肿瘤科", "Oncology")


def test_a_cancer_the_patient_names_still_leads_to_oncology(client: TestClient) -> None:
    result = client.post("/api/v1/triage", json={"complaint": "我有肺癌，最近咳嗽加重"}).json()
    assert result["departments"][0]["name"] == "肿瘤科"
    assert result["possible_conditions"][0]["name"] == "肺癌"
