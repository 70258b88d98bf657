"""Signing in and out of the doctor service: tokens, refresh, logout, forged tokens, guessing."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from backend.core.config import DEV_SECRET_KEY
from backend.devstack.redis_server import LocalRedis
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USERNAME, bearer, login
from tests.support.clients import MakeClient

DOCTOR = ("dr-li", "doctor-password-1")


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/auth/me", headers=bearer(token)).status_code


def _add_doctor(admin: TestClient) -> None:
    created = admin.post(
        "/api/v1/admin/users", json={"username": DOCTOR[0], "password": DOCTOR[1], "role": "doctor"}
    )
    assert created.status_code == 201, created.text


def test_the_first_admin_signs_in_with_the_oauth2_password_form(make_client: MakeClient) -> None:
    client = make_client(signed_in=False)
    tokens = login(client, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    me = client.get("/api/v1/auth/me", headers=bearer(str(tokens["access_token"])))
    assert me.json() == {"username": "admin", "role": "admin"}


def test_every_api_route_but_sign_in_refuses_an_anonymous_caller(make_client: MakeClient) -> None:
    client = make_client(signed_in=False)
    response = client.post("/api/v1/medical/qa", json={"question": "高血压有哪些症状？"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/healthz").status_code == 200  # probes stay open


def test_a_wrong_password_or_unknown_user_is_refused_alike(make_client: MakeClient) -> None:
    client = make_client(signed_in=False)
    for username in (ADMIN_USERNAME, "nobody"):
        response = client.post(
            "/api/v1/auth/token", data={"username": username, "password": "wrong-password"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credentials"


def test_refresh_gives_a_new_pair_and_spends_the_old_refresh_token(make_client: MakeClient) -> None:
    client = make_client(signed_in=False)
    tokens = login(client, ADMIN_USERNAME, ADMIN_PASSWORD)
    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200
    assert _me(client, renewed.json()["access_token"]) == 200

    replayed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replayed.status_code == 401
    # An access token is not a refresh token, nor the other way round.
    wrong_kind = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert wrong_kind.status_code == 401
    assert _me(client, str(renewed.json()["refresh_token"])) == 401


def test_logout_revokes_the_access_and_refresh_tokens(make_client: MakeClient) -> None:
    client = make_client(signed_in=False)
    tokens = login(client, ADMIN_USERNAME, ADMIN_PASSWORD)
    access = str(tokens["access_token"])
    out = client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(access)
    )
    assert out.status_code == 204
    assert _me(client, access) == 401
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )
    assert _me(client, str(login(client, ADMIN_USERNAME, ADMIN_PASSWORD)["access_token"])) == 200


def test_a_password_change_or_deletion_ends_that_users_sign_ins(make_client: MakeClient) -> None:
    admin = make_client()
    _add_doctor(admin)
    token = str(login(admin, *DOCTOR)["access_token"])
    assert _me(admin, token) == 200
    changed = admin.patch(f"/api/v1/admin/users/{DOCTOR[0]}", json={"password": "doctor-password-2"})
    assert changed.status_code == 200
    assert _me(admin, token) == 401
    token = str(login(admin, DOCTOR[0], "doctor-password-2")["access_token"])
    assert admin.delete(f"/api/v1/admin/users/{DOCTOR[0]}").status_code == 204
    assert _me(admin, token) == 401


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": ADMIN_USERNAME,
        "role": "admin",
        "typ": "access",
        "jti": "a-token-id",
        "iat": now,
        "exp": now + 600,
        "aud": "medqa-doctor",
        "iss": "medqa",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


SECRET = DEV_SECRET_KEY  # what the test clients sign with


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            jwt.encode(_claims(), "not-the-server-secret-but-long-enough-for-hs256", algorithm="HS256"),
            id="forged-signature",
        ),
        pytest.param(jwt.encode(_claims(), None, algorithm="none"), id="alg-none"),
        pytest.param(jwt.encode(_claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256"), id="expired"),
        pytest.param(
            jwt.encode(_claims(aud="medqa-patient"), SECRET, algorithm="HS256"), id="wrong-audience"
        ),
        pytest.param(jwt.encode(_claims(iss="elsewhere"), SECRET, algorithm="HS256"), id="wrong-issuer"),
        pytest.param(jwt.encode(_claims(exp=None), SECRET, algorithm="HS256"), id="no-expiry"),
        pytest.param(jwt.encode(_claims(typ="refresh"), SECRET, algorithm="HS256"), id="refresh-as-access"),
        pytest.param("not.a.token", id="garbage"),
    ],
)
def test_a_token_we_did_not_issue_as_is_refused(make_client: MakeClient, token: str) -> None:
    client = make_client(signed_in=False)
    assert _me(client, jwt.encode(_claims(), SECRET, algorithm="HS256")) == 200  # the control case
    response = client.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] in ("invalid_token", "token_expired")


def test_repeated_failures_lock_the_username_then_the_lock_lifts(make_client: MakeClient) -> None:
    client = make_client(signed_in=False, login_max_failures=3, login_lockout_seconds=2)
    for _ in range(2):
        response = client.post("/api/v1/auth/token", data={"username": "admin", "password": "guess-guess"})
        assert response.status_code == 401
    locked = client.post("/api/v1/auth/token", data={"username": "admin", "password": "guess-guess"})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "login_locked"
    assert 1 <= int(locked.headers["retry-after"]) <= 2
    # While locked, even the right password is refused: a guesser learns nothing.
    right = client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert right.status_code == 429
    time.sleep(2.2)
    assert login(client, ADMIN_USERNAME, ADMIN_PASSWORD)["access_token"]


def test_an_address_guessing_many_usernames_is_locked_out(make_client: MakeClient) -> None:
    client = make_client(signed_in=False, login_max_failures_per_address=4, login_lockout_seconds=60)
    statuses = [
        client.post(
            "/api/v1/auth/token", data={"username": f"user{i}", "password": "guess-guess"}
        ).status_code
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_with_redis_down_a_signed_in_doctor_keeps_working_and_sign_in_says_503(
    make_client: MakeClient, private_redis: LocalRedis
) -> None:
    client = make_client(redis_url=private_redis.url, redis_retries=0, redis_connect_timeout=0.2)
    private_redis.stop()
    assert client.get("/api/v1/auth/me").json() == {"username": "admin", "role": "admin"}
    response = client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 503
