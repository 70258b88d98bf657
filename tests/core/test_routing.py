"""Routes reach their handlers through the app's flat route list and the guard's dispatch, exactly as
FastAPI's router would send them, and a router that misses what include_router used to add says so."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from backend.core.app_factory import create_app
from backend.core.config import Settings
from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited

router = APIRouter(prefix="/api/v1/items", tags=["items"], responses=ERROR_RESPONSES)
rate_limited(router, "default")


@router.get("/mine")
async def mine() -> dict[str, str]:
    return {"item": "the static route"}


@router.get("/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"item": item_id}


@router.delete("/{item_id}")
async def remove(item_id: int) -> dict[str, int]:
    return {"removed": item_id}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app("routing", title="routing test", routers=[router], settings=Settings())
    with TestClient(app) as test_client:
        yield test_client


def test_static_and_parameterised_routes_get_their_handlers_and_parameters(client: TestClient) -> None:
    assert client.get("/api/v1/items/mine").json() == {"item": "the static route"}
    assert client.get("/api/v1/items/42").json() == {"item": 42}
    assert client.delete("/api/v1/items/42").json() == {"removed": 42}
    assert client.get("/api/v1/items/42").headers["x-ratelimit-limit"]  # the guard saw the route


def test_wrong_method_bad_parameter_and_unknown_path_keep_their_error_answers(client: TestClient) -> None:
    assert client.post("/api/v1/items/42").status_code == 405
    assert client.post("/api/v1/items/42").json()["error"]["code"] == "method_not_allowed"
    assert client.get("/api/v1/items/not-a-number").status_code == 422
    assert client.get("/api/v1/nothing-here").json()["error"]["code"] == "not_found"


def test_the_schema_documents_the_error_answers_of_every_api_route(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/items/{item_id}"]["get"]
    assert {"401", "404", "422", "429"} <= set(operation["responses"])


def test_a_router_without_the_error_answers_is_refused_by_name() -> None:
    bare = APIRouter(prefix="/api/v1/bare")
    with pytest.raises(ValueError, match=r"/api/v1/bare.*ERROR_RESPONSES"):
        create_app("routing", title="routing test", routers=[bare], settings=Settings())


def test_a_router_with_its_own_lifespan_is_refused_by_name() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    own = APIRouter(prefix="/api/v1/own", responses=ERROR_RESPONSES, lifespan=lifespan)
    with pytest.raises(ValueError, match=r"/api/v1/own.*lifespan"):
        create_app("routing", title="routing test", routers=[own], settings=Settings())
