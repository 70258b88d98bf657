"""Knowledge-base administration over HTTP: search, list, add/replace, delete."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_search_finds_a_starter_condition(client: TestClient) -> None:
    response = client.post("/api/v1/kb/search", json={"query": "支气管哮喘 喘息 咳嗽", "top_k": 3})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert hits[0]["store"] == "diseases"
    assert any(hit["doc_id"] == "disease-bronchial-asthma" for hit in hits)
    # A hit is one field of the record, the passage that matched; its relevance is in (0, 1].
    assert hits[0]["metadata"]["kind"] == "disease"
    assert hits[0]["metadata"]["section"]
    assert all(0 < hit["score"] <= 1 for hit in hits)


def test_documents_are_added_replaced_searched_and_deleted(client: TestClient) -> None:
    stores = client.get("/api/v1/kb/stores").json()["stores"]
    assert [s["name"] for s in stores] == ["diseases"]

    document = {
        "id": "g-1",
        "title": "高血压随访指南",
        "text": "高血压患者每三个月随访一次，监测血压和靶器官损害。",
    }
    created = client.post("/api/v1/kb/stores/guidelines/documents", json={"documents": [document]})
    assert created.status_code == 201
    assert created.json()["documents"] == 1

    replaced = {**document, "text": "高血压患者随访时应复查尿常规和肾功能。"}
    info = client.post("/api/v1/kb/stores/guidelines/documents", json={"documents": [replaced]}).json()
    assert (info["version"], info["documents"]) == (2, 1)

    hits = client.post("/api/v1/kb/search", json={"query": "随访 肾功能", "stores": ["guidelines"]}).json()[
        "hits"
    ]
    assert hits[0]["doc_id"] == "g-1"
    assert "肾功能" in hits[0]["text"]

    assert client.delete("/api/v1/kb/stores/guidelines/documents/g-1").json()["documents"] == 0
    assert client.delete("/api/v1/kb/stores/guidelines/documents/g-1").status_code == 404
    assert client.delete("/api/v1/kb/stores/guidelines").status_code == 204
    assert client.delete("/api/v1/kb/stores/guidelines").status_code == 404


def test_bad_input_changes_nothing(client: TestClient) -> None:
    bad_bodies = [
        {"documents": []},
        {"documents": [{"id": "a", "title": "t"}]},
        {"documents": [{"id": "../x", "title": "t", "text": "x"}]},
        {"documents": [{"id": "a", "title": "t", "text": "x", "extra": 1}]},
    ]
    for body in bad_bodies:
        assert client.post("/api/v1/kb/stores/guidelines/documents", json=body).status_code == 422
    assert client.post("/api/v1/kb/stores/Bad..Name/documents", json={"documents": []}).status_code == 422
    assert [s["name"] for s in client.get("/api/v1/kb/stores").json()["stores"]] == ["diseases"]


def test_entities_and_disease_card(client: TestClient) -> None:
    entities = client.get("/api/v1/kg/entities", params={"text": "高血压患者头痛该做什么检查"}).json()[
        "entities"
    ]
    assert any(e["name"] == "高血压" and e["type"] == "disease" for e in entities)
    assert any(e["name"] == "头痛" and e["type"] == "symptom" for e in entities)
    card = client.get("/api/v1/kg/diseases/高血压")
    assert card.status_code == 200
    assert card.json()["department"] == "心血管内科"
    assert client.get("/api/v1/kg/diseases/不存在的病").status_code == 404


def test_a_doctor_opens_a_document_passage_by_passage_and_lists_a_store(client: TestClient) -> None:
    long_text = "本院发热门诊位于门诊楼一层东侧，二十四小时开放。" * 60  # long enough to be chunked
    documents = [
        {"id": "note-1", "title": "本院发热门诊", "text": long_text, "metadata": {"source": "院内"}},
        {"id": "note-2", "title": "本院急诊", "text": "急诊位于门诊楼北侧。"},
    ]
    assert (
        client.post("/api/v1/kb/stores/hospital/documents", json={"documents": documents}).status_code == 201
    )

    opened = client.get("/api/v1/kb/stores/hospital/documents/note-1").json()
    assert opened["title"] == "本院发热门诊"
    assert opened["metadata"] == {"source": "院内"}
    assert len(opened["passages"]) > 1
    assert all(passage in long_text for passage in opened["passages"])

    listed = client.get("/api/v1/kb/stores/hospital/documents", params={"limit": 1}).json()
    assert listed["total"] == 2
    assert listed["documents"] == [{"id": "note-1", "title": "本院发热门诊"}]
    assert client.get("/api/v1/kb/stores/hospital/documents/nope").status_code == 404
    assert client.get("/api/v1/kb/stores/nowhere/documents").status_code == 404
