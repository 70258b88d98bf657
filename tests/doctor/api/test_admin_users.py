"""Admins manage accounts; doctors cannot."""

from __future__ import annotations

from tests.support.auth import bearer, login
from tests.support.clients import MakeClient


def test_an_admin_creates_lists_changes_and_deletes_accounts(make_client: MakeClient) -> None:
    admin = make_client()
    created = admin.post(
        "/api/v1/admin/users", json={"username": "Dr-Wang", "password": "a-long-password", "role": "doctor"}
    )
    assert created.status_code == 201
    assert created.json()["username"] == "dr-wang"  # usernames are case-insensitive
    assert (
        admin.post(
            "/api/v1/admin/users", json={"username": "dr-wang", "password": "another-password"}
        ).status_code
        == 409
    )
    names = {user["username"]: user["role"] for user in admin.get("/api/v1/admin/users").json()["users"]}
    assert names == {"admin": "admin", "dr-wang": "doctor"}
    assert "password" not in str(admin.get("/api/v1/admin/users").json())

    promoted = admin.patch("/api/v1/admin/users/dr-wang", json={"role": "admin"})
    assert promoted.json()["role"] == "admin"
    assert admin.delete("/api/v1/admin/users/dr-wang").status_code == 204
    assert admin.delete("/api/v1/admin/users/dr-wang").status_code == 404


def test_a_role_change_applies_to_tokens_already_issued(make_client: MakeClient) -> None:
    admin = make_client()
    admin.post("/api/v1/admin/users", json={"username": "dr-zhao", "password": "a-long-password"})
    token = bearer(str(login(admin, "dr-zhao", "a-long-password")["access_token"]))
    assert admin.get("/api/v1/admin/users", headers=token).status_code == 403
    admin.patch("/api/v1/admin/users/dr-zhao", json={"role": "admin"})
    assert admin.get("/api/v1/admin/users", headers=token).status_code == 200


def test_bad_accounts_are_refused_with_a_clear_error(make_client: MakeClient) -> None:
    admin = make_client()
    for body in (
        {"username": "x", "password": "a-long-password"},
        {"username": "has space", "password": "a-long-password"},
        {"username": "dr-short", "password": "short"},
        {"username": "dr-role", "password": "a-long-password", "role": "root"},
    ):
        response = admin.post("/api/v1/admin/users", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
    assert {user["username"] for user in admin.get("/api/v1/admin/users").json()["users"]} == {"admin"}


def test_an_admin_cannot_lock_themselves_out(make_client: MakeClient) -> None:
    admin = make_client()
    assert admin.delete("/api/v1/admin/users/admin").status_code == 409
    assert admin.patch("/api/v1/admin/users/admin", json={"role": "doctor"}).status_code == 409
