"""How a request reaches its route: the app's own flat route list, and a dispatch that skips the
search when the guard has already found the route.

FastAPI 0.16x keeps an included router as a branch that the app's router matches twice per request,
through every earlier router's routes each time: about a fifth of a small request's cost. So
create_app adds each router's routes to the app's own list instead (`add_routes`), and a router
carries itself what include_router would add: API routers document ERROR_RESPONSES
(`APIRouter(responses=ERROR_RESPONSES)`), and none has a lifespan (a service passes its lifespans to
create_app). Both are checked here, so a router that forgets says so when the app is built.

The guard (backend/core/guard.py) finds, for every request, the route the router would pick, and
leaves it in the scope under ROUTE; the dispatch hands the request straight to it. Anything else
(no route, a wrong method, a redirect) goes through FastAPI's router as before. What the dispatch
does not do is FastAPI's OpenTelemetry route naming: we export our own metrics, named by route.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.core.errors import ERROR_RESPONSES

# The scope key under which the guard leaves the APIRoute it found for the request.
ROUTE = "medqa.route"


def add_routes(app: FastAPI, router: APIRouter, *, api: bool = True) -> None:
    """`router`'s routes, appended to the app's own route list (in order: the first match wins)."""
    name = router.prefix or router.tags
    if api and any(router.responses.get(status) != doc for status, doc in ERROR_RESPONSES.items()):
        raise ValueError(f"router {name}: declare APIRouter(responses=ERROR_RESPONSES)")
    if type(router.lifespan_context) is not type(APIRouter().lifespan_context):
        raise ValueError(f"router {name}: give its lifespan to create_app's lifespans")
    app.router.routes.extend(router.routes)


def install_dispatch(app: FastAPI) -> None:
    """The app's router serves a request whose route was found upstream without searching again."""
    app.router.middleware_stack = _Dispatch(app.router.app, app.router)


class _Dispatch:
    def __init__(self, search: ASGIApp, router: APIRouter) -> None:
        self.search = search
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: APIRoute | None = scope.pop(ROUTE, None)
        if route is not None:
            # Its own match still runs: it fills the path parameters, as the router's would.
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.update(child_scope)
                scope.setdefault("router", self.router)
                await route.handle(scope, receive, send)
                return
        await self.search(scope, receive, send)
