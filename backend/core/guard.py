"""The API guard: sign-in check and rate limit of every /api route, as one plain ASGI layer.

They were FastAPI dependencies of each route, and every API call paid for solving them (the
dependency machinery cost more than the checks). Here the guard finds the route the router will
pick (same routes, same order, same matching), then, as the dependencies did and in their order:
- signed-in routes: the service's sign-in check (401 in the error shape when it fails);
- limited routes: the route's rate limit per client address (429 with X-RateLimit-*, Retry-After),
  and on a successful response the X-RateLimit-* headers.
Nothing else changes: a path or method no route takes goes to the router untouched (404, 405,
redirects), and everything a route checks itself (roles, bodies, parameters) comes after the guard.

Routers say which limit counts their calls with `rate_limited(router, name)`; the sign-in check is
given to create_app, and documented in the OpenAPI schema as the security scheme of every
signed-in route, as the dependency did.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.core.errors import AppError, DependencyUnavailable, error_body
from backend.core.metrics import RATE_LIMITED
from backend.core.middleware import SUCCESS_HEADERS
from backend.core.ratelimit import RateLimiter
from backend.core.routing import ROUTE

# id(router) -> (router, limit name); routers are module-level (and not hashable), so kept by id.
_LIMITS: dict[int, tuple[APIRouter, str]] = {}

_UNAVAILABLE = "The service cannot reach its data store right now; nothing was changed. Please retry shortly."


def rate_limited(router: APIRouter, name: str) -> APIRouter:
    """Count every call of `router`'s routes against limit `name` ("default", "qa", "health"), per
    client address and route. The address is the peer, or X-Forwarded-For only when the peer is a
    trusted proxy (FORWARDED_ALLOW_IPS, applied by uvicorn), so a client cannot forge its key."""
    _LIMITS[id(router)] = (router, name)
    return router


def limit_of(router: APIRouter) -> str | None:
    marked = _LIMITS.get(id(router))
    return marked[1] if marked is not None and marked[0] is router else None


@dataclass(frozen=True)
class SignIn:
    """A service's sign-in check: the Authorization header's value (None when absent) -> the principal,
    or an AppError (401). `scheme` is what the OpenAPI schema documents on the signed-in routes."""

    check: Callable[[FastAPI, str | None], Awaitable[object]]
    scheme: SecurityBase
    # The check's answer when this worker already knows it (a recently checked token), else None:
    # the common case, answered without the coroutines of the full check.
    recall: Callable[[FastAPI, str | None], object | None] = lambda app, authorization: None


@dataclass(frozen=True, slots=True)
class _Entry:
    route: APIRoute
    regex: re.Pattern[str]
    methods: frozenset[str] | None
    signed_in: bool
    limit: str | None

    @property
    def guarded(self) -> bool:
        return self.signed_in or self.limit is not None


class RouteTable:
    """The routes the app's router tries, in its order, with what each needs; `find` gives the route
    the router picks for a request (the first that matches path and method), as a dict lookup for
    paths without parameters."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._static: dict[str, list[int]] = {}
        self._dynamic: list[int] = []

    def add(self, router: APIRouter, *, signed_in: bool) -> None:
        limit = limit_of(router)
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            methods = frozenset(route.methods) if route.methods else None
            index = len(self._entries)
            self._entries.append(_Entry(route, route.path_regex, methods, signed_in, limit))
            if route.param_convertors:
                self._dynamic.append(index)
            else:
                self._static.setdefault(route.path_format, []).append(index)

    def find(self, method: str, path: str) -> _Entry | None:
        found: int | None = None
        for index in self._static.get(path, ()):
            methods = self._entries[index].methods
            if methods is None or method in methods:
                found = index
                break
        for index in self._dynamic:
            if found is not None and index > found:
                break
            entry = self._entries[index]
            if (entry.methods is None or method in entry.methods) and entry.regex.match(path):
                found = index
                break
        return self._entries[found] if found is not None else None

    def guarded_routes(self) -> list[APIRoute]:
        return [entry.route for entry in self._entries if entry.signed_in]


class Guard:
    """The ASGI layer: inside CORS and the request envelope, so its refusals carry both."""

    def __init__(self, app: ASGIApp, *, table: RouteTable, sign_in: SignIn | None, service: str) -> None:
        self.app = app
        self.table = table
        self.sign_in = sign_in
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = self.table.find(scope["method"], _route_path(scope))
        if entry is None:
            await self.app(scope, receive, send)
            return
        scope[ROUTE] = entry.route  # for the router's dispatch (backend/core/routing.py)
        if not entry.guarded:
            await self.app(scope, receive, send)
            return
        app: FastAPI = scope["app"]
        state = scope.setdefault("state", {})
        if entry.signed_in and self.sign_in is not None:
            authorization = _authorization(scope)
            try:
                principal = self.sign_in.recall(app, authorization)
                if principal is None:
                    principal = await self.sign_in.check(app, authorization)
                state["principal"] = principal
            except AppError as exc:
                await _refuse(
                    scope, send, entry, exc.status_code, exc.code, exc.message, exc.headers, exc.extra
                )
                return
            except DependencyUnavailable:
                headers = {"Retry-After": "5"}
                await _refuse(scope, send, entry, 503, "store_unavailable", _UNAVAILABLE, headers, {})
                return
        if entry.limit is None:
            await self.app(scope, receive, send)
            return
        limiter: RateLimiter = app.state.limiter
        if not limiter.enabled:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        decision = await limiter.hit(entry.limit, entry.route.path, client[0] if client else "unknown")
        if not decision.allowed:
            RATE_LIMITED.labels(self.service, entry.limit).inc()
            message = (
                f"Too many requests: at most {decision.limit} per window. Retry in {decision.reset_after} s."
            )
            await _refuse(scope, send, entry, 429, "rate_limited", message, decision.headers(), {})
            return
        # The X-RateLimit-* headers reach successful responses only, as the dependency's did (never
        # an error the route raises); the envelope, which already rewrites every response's
        # headers, adds them, rather than another wrapper of `send` per request.
        state[SUCCESS_HEADERS] = decision.raw_headers()
        await self.app(scope, receive, send)


async def _refuse(
    scope: Scope,
    send: Send,
    entry: _Entry,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str],
    extra: dict[str, Any],
) -> None:
    """The error shape, as the exception handlers answer it; the route is recorded as matched, so the
    access log and metrics name it as they did when the dependency refused."""
    scope["route"] = entry.route
    body = orjson.dumps(error_body(code, message, scope["state"].get("request_id"), **extra))
    raw = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


def _route_path(scope: Scope) -> str:
    """The path the router matches (Starlette's get_route_path)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path) :] if path[len(root_path)] == "/" else path


def document_sign_in(app: FastAPI, routes: Sequence[APIRoute], scheme: SecurityBase) -> None:
    """Document `scheme` on the operations of `routes` in the app's OpenAPI schema, as FastAPI does
    for a security dependency."""
    build = app.openapi
    name = scheme.scheme_name
    operations = {(method.lower(), route.path_format) for route in routes for method in route.methods or ()}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, items in schema.get("paths", {}).items():
            for method, operation in items.items():
                if (method, path) in operations:
                    security = operation.setdefault("security", [])
                    if {name: []} not in security:
                        security.append({name: []})
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.setdefault(name, jsonable_encoder(scheme.model, by_alias=True, exclude_none=True))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
