"""Every read of a patient record is in the audit log, which only admins read."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.auth import bearer, login
from tests.support.clients import MakeClient


def _submit(client: TestClient) -> str:
    store = client.app.state.consultations  # type: ignore[attr-defined]
    summary: dict[str, Any] = {"chief_complaint": "咳嗽三天", "department": "呼吸内科"}
    record = client.portal.call(  # type: ignore[union-attr]
        lambda: store.submit(summary, department="呼吸内科", session_id="session-for-audit-test")
    )
    return str(record["id"])


def test_a_doctors_reads_are_audited_and_only_admins_query_the_log(make_client: MakeClient) -> None:
    admin = make_client()
    record_id = _submit(admin)
    admin.post("/api/v1/admin/users", json={"username": "dr-chen", "password": "a-long-password"})
    doctor = bearer(str(login(admin, "dr-chen", "a-long-password")["access_token"]))

    assert admin.get("/api/v1/consultations", headers=doctor).status_code == 200
    assert admin.get(f"/api/v1/consultations/{record_id}", headers=doctor).status_code == 200
    marked = admin.post(f"/api/v1/consultations/{record_id}/status", json={"status": "seen"}, headers=doctor)
    assert marked.status_code == 200

    assert admin.get("/api/v1/admin/audit", headers=doctor).status_code == 403
    entries = admin.get("/api/v1/admin/audit", params={"actor": "dr-chen"}).json()["entries"]
    assert [(entry["action"], entry["record"]) for entry in entries] == [
        ("consultation.status.seen", record_id),
        ("consultation.read", record_id),
        ("consultation.list", record_id),
    ]
    assert all(entry["role"] == "doctor" and entry["at"] > 0 for entry in entries)
    assert "咳嗽" not in str(entries)  # ids only, never the patient's words

    by_record = admin.get("/api/v1/admin/audit", params={"record": record_id}).json()["entries"]
    assert len(by_record) == 3
    older = admin.get("/api/v1/admin/audit", params={"before": entries[0]["id"], "limit": 1}).json()
    assert older["entries"][0]["id"] == entries[1]["id"]


def test_admin_changes_are_audited_too(make_client: MakeClient) -> None:
    admin = make_client()
    admin.post("/api/v1/admin/users", json={"username": "dr-sun", "password": "a-long-password"})
    admin.delete("/api/v1/admin/users/dr-sun")
    entries = admin.get("/api/v1/admin/audit", params={"actor": "admin"}).json()["entries"]
    assert [(entry["action"], entry["record"]) for entry in entries][:2] == [
        ("user.delete", "dr-sun"),
        ("user.create", "dr-sun"),
    ]


def test_paging_before_the_first_possible_entry_is_an_empty_page(make_client: MakeClient) -> None:
    admin = make_client()
    response = admin.get("/api/v1/admin/audit", params={"before": "0-0"})
    assert response.status_code == 200
    assert response.json() == {"entries": []}
